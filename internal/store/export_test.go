package store

import "github.com/alexa-skill-credentials/alexa-skill-credentials/internal/testsupport/motoserver"

// Moto is the package's moto server (TestMain), for the tests of package
// store_test.
func Moto() *motoserver.Server { return moto }
