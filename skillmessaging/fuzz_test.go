package skillmessaging

import (
	"bufio"
	"errors"
	"net/url"
	"os"
	"path"
	"strings"
	"testing"
)

// FuzzMessageURL checks the user id handling of Send: a user id is refused
// (ErrInvalidUserID) or ends up, unchanged, as the single last segment of the
// message URL below the endpoint's path, with no query, fragment or dot
// segments. Seeds are testdata/user-ids.txt. Run it with
//
//	go test -fuzz FuzzMessageURL ./skillmessaging
func FuzzMessageURL(f *testing.F) {
	file, err := os.Open("testdata/user-ids.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		f.Add(sc.Text(), "/prefix")
	}
	f.Add("", "")
	f.Add("amzn1.ask.account.A", "/a/../b")
	f.Fuzz(func(t *testing.T, userID, basePath string) {
		endpoint := "https://api.example.test" + basePath
		base, err := url.Parse(endpoint)
		if err != nil || base.RawQuery != "" || base.Fragment != "" || base.Host != "api.example.test" {
			return
		}
		got, err := messageURL(endpoint, userID, []string{"api.example.test"})
		if err != nil {
			if ValidateUserID(userID) == nil && !errors.Is(err, ErrInvalidEndpoint) {
				t.Fatalf("messageURL(%q) = %v for a valid user id", userID, err)
			}
			if ValidateUserID(userID) != nil && !errors.Is(err, ErrInvalidUserID) {
				t.Fatalf("messageURL(%q) = %v; want %v", userID, err, ErrInvalidUserID)
			}
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("messageURL(%q) = %q, not a URL: %v", userID, got, err)
		}
		dir, last := path.Split(u.Path)
		if last != userID || !strings.HasSuffix(dir, "/v1/skillmessages/users/") {
			t.Fatalf("messageURL(%q) = %q; want the user id as the last segment below /v1/skillmessages/users/", userID, got)
		}
		if u.RawQuery != "" || u.Fragment != "" || u.Host != "api.example.test" || u.Scheme != "https" {
			t.Fatalf("messageURL(%q) = %q; want no query or fragment, the same host and scheme", userID, got)
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("messageURL(%q) = %q; want no dot segments", userID, got)
			}
		}
	})
}
