package skillmessagingtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

// notifyShipped is the code under test: a skill Lambda's handler that sends
// a message to its skill.
func notifyShipped(ctx context.Context, sender *skillmessaging.Sender, apiEndpoint, userID, orderID string) error {
	_, err := sender.Send(ctx, apiEndpoint, userID, skillmessaging.Message{
		Data: map[string]string{"event": "order-shipped", "orderId": orderID},
	})
	return err
}

// Test a handler without Amazon: the fake knows the skill's credentials and
// its user, and logs the message it accepted.
func Example() {
	const (
		skillID = "amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
		userID  = "amzn1.ask.account.AEXAMPLEUSER"
	)
	fake := skillmessagingtest.NewServer()
	defer fake.Close()
	fake.SetSkill(skillID, "amzn1.application-oa2-client.example", "example-secret")
	fake.AddUser(userID)

	creds := skillmessaging.StaticCredentials(skillmessaging.Credentials{
		ClientID: "amzn1.application-oa2-client.example", ClientSecret: "example-secret"})
	sender, err := skillmessaging.NewSender(creds, skillID, skillmessaging.WithTokenURL(fake.TokenURL()))
	if err != nil {
		log.Fatal(err)
	}

	// A scripted fault: the first attempt meets a 503, the sender retries.
	fake.ScriptMessages(skillmessagingtest.ServerError(503))
	if err := notifyShipped(context.Background(), sender, fake.Endpoint(), userID, "42"); err != nil {
		log.Fatal(err)
	}
	m := fake.Messages()[0]
	fmt.Println(m.UserID, string(m.Data))
	fmt.Println("requests to the API:", fake.MessageRequests())

	// A user who disabled the skill.
	fake.RemoveUser(userID)
	err = notifyShipped(context.Background(), sender, fake.Endpoint(), userID, "43")
	fmt.Println(errors.Is(err, skillmessaging.ErrUnknownUser))
	// Output:
	// amzn1.ask.account.AEXAMPLEUSER {"event":"order-shipped","orderId":"42"}
	// requests to the API: 2
	// true
}

// userEmail is more code under test: it reads the user's email from the
// Customer Profile API with the skill request's apiAccessToken.
func userEmail(ctx context.Context, apiEndpoint, apiAccessToken string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiEndpoint+"/v2/accounts/~current/settings/Profile.email", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+apiAccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("customer profile: %s (request id %s)", resp.Status, resp.Header.Get("X-Amzn-RequestId"))
	}
	var email string
	err = json.NewDecoder(resp.Body).Decode(&email)
	return email, err
}

// Another Alexa API the code under test calls, served by the same fake: its
// requests get request ids and go in the same log, and it answers a
// scripted fault the way the fake's own endpoints do.
func ExampleServer_Handle() {
	fake := skillmessagingtest.NewServer()
	defer fake.Close()
	var next skillmessagingtest.Fault // the fault for the next request
	fake.Handle("GET /alexa/v2/accounts/~current/settings/Profile.email", func(r *http.Request) skillmessagingtest.Answer {
		f := next
		next = skillmessagingtest.Fault{}
		if r.Header.Get("Authorization") != "Bearer api-access-token" {
			return skillmessagingtest.Answer{Status: http.StatusForbidden, Message: "Access to this resource was denied."}
		}
		return skillmessagingtest.Answer{Status: http.StatusOK, Body: "user@example.com", Fault: f}
	})

	email, err := userEmail(context.Background(), fake.Endpoint(), "api-access-token")
	fmt.Println(email, err)
	next = skillmessagingtest.Throttled("1")
	_, err = userEmail(context.Background(), fake.Endpoint(), "api-access-token")
	fmt.Println(err != nil)
	for _, r := range fake.Requests() {
		fmt.Println(r.Method, r.Path, r.Status)
	}
	// Output:
	// user@example.com <nil>
	// true
	// GET /alexa/v2/accounts/~current/settings/Profile.email 200
	// GET /alexa/v2/accounts/~current/settings/Profile.email 429
}
