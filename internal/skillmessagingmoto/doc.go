// Package skillmessagingmoto holds the tests of package skillmessaging's
// Secrets Manager path against moto's server, with the real AWS SDK client.
// They live in the root module because skillmessaging is a module of its own
// (Go 1.24, light to import) that cannot require the repository's test
// helpers; its own tests use an in-memory Secrets Manager.
package skillmessagingmoto
