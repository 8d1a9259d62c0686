package turn

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseUsername checks that parseUsername, which reads the username of every TURN request,
// never panics and accepts only an unexpired or barely expired, not future-dated expiry with
// a bounded identity free of colons.
func FuzzParseUsername(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("1800000600:peer-abc.a127.0.0.1")
	f.Add("1800000600:")
	f.Add(":x")
	f.Add("-5:x")
	f.Add("99999999999999999999:x")
	f.Add("1800000600:a:b")
	f.Fuzz(func(t *testing.T, username string) {
		identity, err := parseUsername(username, now, DefaultTTL, DefaultTTL)
		if err != nil {
			return
		}
		ts, rest, _ := strings.Cut(username, ":")
		if rest != identity || identity == "" || len(identity) > maxIdentity || strings.Contains(identity, ":") {
			t.Fatalf("%q gave identity %q", username, identity)
		}
		if ts == "" || ts[0] == '-' {
			t.Fatalf("%q: accepted expiry %q", username, ts)
		}
	})
}
