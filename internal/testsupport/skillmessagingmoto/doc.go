// Package skillmessagingmoto holds the tests of the skill secret's readers
// against moto's server: package skillmessaging's Secrets Manager path with
// the real AWS SDK client, the JSON Schema of the secret
// (schema/skill-secret.schema.json) against what the sync writes, and the
// README's snippets run against moto: the Python one (examples/python) with
// boto3, the Node.js one (examples/node) with the AWS SDK v3. They live in the
// root module because skillmessaging is a module of its own (Go 1.24, light
// to import) that cannot require the repository's test helpers; its own
// tests use an in-memory Secrets Manager.
package skillmessagingmoto
