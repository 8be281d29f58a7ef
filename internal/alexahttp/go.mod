module github.com/alexa-skill-credentials/alexa-skill-credentials/internal/alexahttp

go 1.24.0

require golang.org/x/oauth2 v0.35.0
