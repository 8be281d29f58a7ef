package skillmessaging_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// secrets stands in for *secretsmanager.Client in the examples: it holds
// each secret's AWSCURRENT value by name. In a Lambda, pass
// secretsmanager.NewFromConfig(cfg).
type secrets map[string]string

func (s secrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := s[aws.ToString(in.SecretId)]
	if !ok {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	return &secretsmanager.GetSecretValueOutput{Name: in.SecretId, SecretString: aws.String(v)}, nil
}

const (
	skillID  = "amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
	unsynced = "amzn1.ask.skill.99999999-5e6f-4a1b-8c2d-3e4f5a6b7c8d"
	clientID = "amzn1.application-oa2-client.example"
	userID   = "amzn1.ask.account.AEXAMPLEUSER"
)

// A skill's secret as the credential sync writes it, and one the sync has
// not filled in yet.
var sm = secrets{
	"alexa/skill-messaging/" + skillID:  `{"skillId":"` + skillID + `","clientId":"` + clientID + `","clientSecret":"example-secret"}`,
	"alexa/skill-messaging/" + unsynced: `{"skillId":"` + unsynced + `"}`,
}

func ExampleNewCredentialsCache() {
	reader := skillmessaging.NewCredentialsCache(sm, "alexa/skill-messaging/")

	creds, err := reader.Credentials(context.Background(), skillID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(creds.ClientID)
	fmt.Println(creds.ClientSecret) // a Secret prints masked

	_, err = reader.Credentials(context.Background(), unsynced)
	fmt.Println(errors.Is(err, skillmessaging.ErrNotSynced))
	// Output:
	// amzn1.application-oa2-client.example
	// [REDACTED]
	// true
}

// fakeAmazon starts the fake LWA and Alexa API that the examples use in
// place of Amazon, knowing the example skill and user.
func fakeAmazon() *skillmessagingtest.Server {
	fake := skillmessagingtest.NewServer()
	fake.SetSkill(skillID, clientID, "example-secret")
	fake.AddUser(userID)
	return fake
}

func ExampleNewSender() {
	fake := fakeAmazon()
	defer fake.Close()

	creds := skillmessaging.NewCredentialsCache(sm, "alexa/skill-messaging/")
	// In a Lambda, no options: Amazon's token URL and the defaults.
	sender, err := skillmessaging.NewSender(creds, skillID, skillmessaging.WithTokenURL(fake.TokenURL()))
	if err != nil {
		log.Fatal(err)
	}
	// The endpoint is the user's region: skillmessaging.EndpointNorthAmerica,
	// EndpointEurope, EndpointFarEast, or the apiEndpoint of a skill request.
	res, err := sender.Send(context.Background(), fake.Endpoint(), userID, skillmessaging.Message{
		Data:                map[string]string{"event": "order-shipped"},
		ExpiresAfterSeconds: 600,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StatusCode, res.Attempts)
	fmt.Println(string(fake.Messages()[0].Data))
	// Output:
	// 202 1
	// {"event":"order-shipped"}
}

func ExampleSender_Send_errors() {
	fake := fakeAmazon()
	defer fake.Close()
	sender, err := skillmessaging.NewSender(skillmessaging.NewCredentialsCache(sm, "alexa/skill-messaging/"), skillID,
		skillmessaging.WithTokenURL(fake.TokenURL()))
	if err != nil {
		log.Fatal(err)
	}

	_, err = sender.Send(context.Background(), fake.Endpoint(), "amzn1.ask.account.SOMEONEELSE", skillmessaging.Message{})
	var apiErr *skillmessaging.Error
	switch {
	case errors.Is(err, skillmessaging.ErrUnknownUser) && errors.As(err, &apiErr):
		fmt.Println("unknown user, HTTP", apiErr.StatusCode, "request id present:", apiErr.RequestID != "")
	case err != nil:
		fmt.Println("other error:", err)
	}

	_, err = sender.Send(context.Background(), fake.Endpoint(), userID, skillmessaging.Message{ExpiresAfterSeconds: 10})
	fmt.Println(errors.Is(err, skillmessaging.ErrInvalidMessage))
	// Output:
	// unknown user, HTTP 404 request id present: true
	// true
}

func ExampleNewTokenSource() {
	fake := fakeAmazon()
	defer fake.Close()

	creds := skillmessaging.StaticCredentials(skillmessaging.Credentials{ClientID: clientID, ClientSecret: "example-secret"})
	ts, err := skillmessaging.NewTokenSource(creds, skillID, skillmessaging.WithTokenURL(fake.TokenURL()))
	if err != nil {
		log.Fatal(err)
	}
	// ts is an oauth2.TokenSource: oauth2.NewClient(ctx, ts) authorizes
	// requests to other Alexa APIs that take a Skill Messaging token.
	tok, err := ts.Token()
	if err != nil {
		log.Fatal(err)
	}
	skill, _ := fake.TokenSkill(tok.AccessToken)
	fmt.Println(tok.Type(), skill == skillID)
	// Output:
	// Bearer true
}

func ExampleSecret() {
	s := skillmessaging.Secret("example-secret")
	fmt.Println(s)
	fmt.Printf("%q %x %#v\n", s, s, s)
	// Output:
	// [REDACTED]
	// [REDACTED] [REDACTED] [REDACTED]
}

func ExampleValidateUserID() {
	for _, id := range []string{"amzn1.ask.account.AEXAMPLEUSER", "", "../../v1/skills"} {
		fmt.Println(skillmessaging.ValidateUserID(id) == nil)
	}
	// Output:
	// true
	// false
	// false
}

func ExampleNewProactiveEventsSender() {
	fake := fakeAmazon()
	defer fake.Close()

	creds := skillmessaging.NewCredentialsCache(sm, "alexa/skill-messaging/")
	// StageDevelopment while testing; StageLive once the skill is certified.
	events, err := skillmessaging.NewProactiveEventsSender(creds, skillID, skillmessaging.WithTokenURL(fake.TokenURL()))
	if err != nil {
		log.Fatal(err)
	}
	// referenceId: 1 to 100 ASCII letters, digits or '~' (a '-' is refused).
	now := time.Now()
	ev := skillmessaging.Event{
		Timestamp:   now,
		ReferenceID: "order42shipped",
		ExpiryTime:  now.Add(time.Hour),
		Name:        "AMAZON.OrderStatus.Updated",
		Payload: map[string]any{
			"state": map[string]string{"status": "ORDER_SHIPPED"},
			"order": map[string]any{"seller": map[string]string{"name": "localizedattribute:sellerName"}},
		},
		LocalizedAttributes: []map[string]string{{"locale": "en-US", "sellerName": "Example Store"}},
		Audience:            skillmessaging.Audience{Type: skillmessaging.Unicast, UserID: userID},
	}
	res, err := events.Send(context.Background(), fake.Endpoint(), skillmessaging.StageDevelopment, ev)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StatusCode, fake.Events()[0].Stage, fake.Events()[0].Audience)

	// The same referenceId again for the same user: Amazon refuses it.
	_, err = events.Send(context.Background(), fake.Endpoint(), skillmessaging.StageDevelopment, ev)
	fmt.Println(errors.Is(err, skillmessaging.ErrDuplicateEvent))
	// Output:
	// 202 development Unicast
	// true
}
