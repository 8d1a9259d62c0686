package signaling_test

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"peerdesk/signaling"
)

// getFrom sends GET path as if through a proxy that says the client is xff.
func (e *env) getFrom(path, xff string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestBehindTrustedProxy: behind a trusted TLS-terminating proxy (public URL https), the login
// cookie is Secure, responses carry HSTS, and the share-key throttle counts each forwarded
// client, so that one client's bad keys lock out no other; a server that does not trust the
// proxy ignores the header, which clients could forge.
func TestBehindTrustedProxy(t *testing.T) {
	e := newEnv(t, signaling.Config{PublicURL: "https://desk.example.com", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	e.user("alice", false)
	resp, _ := e.do("POST", "/api/login", nil, `{"username":"alice","password":"alice-password"}`)
	var secure bool
	for _, c := range resp.Cookies() {
		secure = secure || c.Name == "peerdesk_session" && c.Secure
	}
	if resp.StatusCode != http.StatusOK || !secure {
		t.Fatalf("login behind an https public URL: %d, Secure cookie %v", resp.StatusCode, secure)
	}
	if h := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(h, "max-age=") {
		t.Fatalf("Strict-Transport-Security %q", h)
	}
	for range 10 {
		if r := e.getFrom("/s/not-a-key", "198.51.100.1"); r.StatusCode != http.StatusNotFound {
			t.Fatalf("a bad key: %d, want 404", r.StatusCode)
		}
	}
	if r := e.getFrom("/s/not-a-key", "198.51.100.1"); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the 11th bad key of one client: %d, want 429", r.StatusCode)
	}
	if r := e.getFrom("/s/not-a-key", "198.51.100.2"); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another client behind the proxy: %d, want 404 (not locked out)", r.StatusCode)
	}

	plain := newEnv(t, signaling.Config{})
	for i := range 10 {
		plain.getFrom("/s/not-a-key", "198.51.100."+string(rune('0'+i)))
	}
	if r := plain.getFrom("/s/not-a-key", "198.51.100.99"); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("an untrusted X-Forwarded-For escaped the throttle: %d, want 429", r.StatusCode)
	}
	if r := plain.getFrom("/", ""); r.Header.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS on a plain-http server")
	}
}
