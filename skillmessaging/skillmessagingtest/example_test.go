package skillmessagingtest_test

import (
	"context"
	"errors"
	"fmt"
	"log"

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
