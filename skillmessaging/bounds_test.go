package skillmessaging

import (
	"errors"
	"strings"
	"testing"
)

// The tests in this file pin the edges of the documented limits: the last
// value accepted and the first one refused.

func TestUserIDLength(t *testing.T) {
	if err := ValidateUserID(strings.Repeat("A", MaxUserIDBytes)); err != nil {
		t.Errorf("ValidateUserID(%d bytes) = %v; want accepted", MaxUserIDBytes, err)
	}
	if err := ValidateUserID(strings.Repeat("A", MaxUserIDBytes+1)); !errors.Is(err, ErrInvalidUserID) {
		t.Errorf("ValidateUserID(%d bytes) = %v; want %v", MaxUserIDBytes+1, err, ErrInvalidUserID)
	}
}

// TestUserIDCharacters: ASCII letters, digits, '.', '-' and '_'; the
// characters next to each range are refused.
func TestUserIDCharacters(t *testing.T) {
	for _, id := range []string{"a", "z", "A", "Z", "0", "9", "amzn1.ask.account.azAZ09-_"} {
		if err := ValidateUserID(id); err != nil {
			t.Errorf("ValidateUserID(%q) = %v; want accepted", id, err)
		}
	}
	for _, id := range []string{"`", "{", "@", "[", "/", ":", "a b", "a~"} {
		if err := ValidateUserID(id); !errors.Is(err, ErrInvalidUserID) {
			t.Errorf("ValidateUserID(%q) = %v; want %v", id, err, ErrInvalidUserID)
		}
	}
}

func TestExpiresAfterSecondsBounds(t *testing.T) {
	for expires, ok := range map[int]bool{
		MinExpiresAfterSeconds - 1: false, MinExpiresAfterSeconds: true,
		MaxExpiresAfterSeconds: true, MaxExpiresAfterSeconds + 1: false,
	} {
		_, err := encodeMessage(Message{ExpiresAfterSeconds: expires})
		if (err == nil) != ok || (err != nil && !errors.Is(err, ErrInvalidMessage)) {
			t.Errorf("encodeMessage(expiresAfterSeconds %d) = %v; want accepted %v", expires, err, ok)
		}
	}
}

// TestReferenceIDBounds: 1 to MaxReferenceIDLen ASCII letters, digits and
// '~'; the characters next to each range are refused.
func TestReferenceIDBounds(t *testing.T) {
	for _, id := range []string{"a", "z", "A", "Z", "0", "9", "~", "azAZ09~", strings.Repeat("a", MaxReferenceIDLen)} {
		if err := checkReferenceID(id); err != nil {
			t.Errorf("checkReferenceID(%q) = %v; want accepted", id, err)
		}
	}
	for _, id := range []string{"", strings.Repeat("a", MaxReferenceIDLen+1), "`", "{", "@", "[", "/", ":", "-", "a b"} {
		if err := checkReferenceID(id); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("checkReferenceID(%q) = %v; want %v", id, err, ErrInvalidMessage)
		}
	}
}
