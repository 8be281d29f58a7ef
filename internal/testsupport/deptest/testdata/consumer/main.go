// Command consumer is a skill developer's module on Go 1.24 that uses
// skillmessaging and its fake; TestSkillmessagingIsLightToImport builds it.
package main

import (
	"context"
	"fmt"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging"
	"github.com/alexa-skill-credentials/alexa-skill-credentials/skillmessaging/skillmessagingtest"
)

func main() {
	fake := skillmessagingtest.NewServer()
	defer fake.Close()
	sender, err := skillmessaging.NewSender(skillmessaging.StaticCredentials(skillmessaging.Credentials{ClientID: "c", ClientSecret: "s"}),
		"amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d", skillmessaging.WithTokenURL(fake.TokenURL()))
	fmt.Println(sender, err, context.Background() != nil)
	events, err := skillmessaging.NewProactiveEventsSender(skillmessaging.StaticCredentials(skillmessaging.Credentials{ClientID: "c", ClientSecret: "s"}),
		"amzn1.ask.skill.1a2b3c4d-5e6f-4a1b-8c2d-3e4f5a6b7c8d", skillmessaging.WithTokenURL(fake.TokenURL()))
	fmt.Println(events, err, skillmessaging.StageDevelopment)
}
