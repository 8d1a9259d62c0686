package client

import (
	"errors"
	"strings"
	"testing"
)

// TestShareTarget: share URLs are parsed strictly, and the key never shows in the target's
// description (which errors and logs use).
func TestShareTarget(t *testing.T) {
	key := strings.Repeat("k", 43)
	for _, c := range []struct {
		url, cookie string
		server      string
		ok          bool
	}{
		{"https://desk.example.com/s/" + key, "", "https://desk.example.com", true},
		{"http://127.0.0.1:8080/s/" + key, "abc", "http://127.0.0.1:8080", true},
		{"http://127.0.0.1:8080/s/" + key, "bad;cookie", "", false},
		{"ftp://host/s/" + key, "", "", false},
		{"http:///s/" + key, "", "", false},
		{"http://host/x/" + key, "", "", false},
		{"http://host/s/", "", "", false},
		{"http://host/s/a/b", "", "", false},
		{"http://host/s/" + strings.Repeat("k", maxShareKey+1), "", "", false},
		{"::not a url", "", "", false},
	} {
		server, tg, err := shareTarget(c.url, c.cookie)
		if c.ok != (err == nil) {
			t.Errorf("%q: err %v, want ok=%v", c.url, err, c.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("%q: %v does not wrap ErrInvalidArgument", c.url, err)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("%q: error shows the key: %v", c.url, err)
			}
			continue
		}
		if server != c.server || tg.query.Get("share") != key || tg.cookie != c.cookie || strings.Contains(tg.desc, key) {
			t.Errorf("%q: server %q target %+v", c.url, server, tg)
		}
	}
}
