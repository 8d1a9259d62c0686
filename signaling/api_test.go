package signaling_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/fstest"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
	"peerdesk/store"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  signaling.Config
	}{
		{"no store", signaling.Config{}},
		{"negative ttl", signaling.Config{Store: (*store.Store)(nil), SessionTTL: -1}},
		{"negative peers per user", signaling.Config{Store: (*store.Store)(nil), MaxPeersPerUser: -1}},
		{"negative peers per address", signaling.Config{Store: (*store.Store)(nil), MaxPeersPerAddress: -1}},
		{"bad origin", signaling.Config{Store: (*store.Store)(nil), AllowedOrigins: []string{"example.com"}}},
		{"ice server without urls", signaling.Config{Store: (*store.Store)(nil), ICEServers: []proto.ICEServer{{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := signaling.New(tt.cfg); !errors.Is(err, signaling.ErrInvalidConfig) {
				t.Fatalf("New = %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	e.user("alice", false)

	resp, body := e.do("POST", "/api/login", nil, `{"username":"alice","password":"alice-password"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	var me struct {
		Username string `json:"username"`
		Admin    bool   `json:"admin"`
	}
	decodeJSON(t, body, &me)
	if me.Username != "alice" || me.Admin {
		t.Fatalf("login reply = %+v", me)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies = %v", cookies)
	}
	c := cookies[0]
	if c.Name != "peerdesk_session" || c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge != 24*3600 {
		t.Fatalf("cookie = %+v", c)
	}

	for _, tt := range []struct {
		name, method, body string
		status             int
		message            string
	}{
		{"wrong password", "POST", `{"username":"alice","password":"wrong-password"}`, 401, "invalid username or password"},
		{"unknown user", "POST", `{"username":"mallory","password":"mallory-password"}`, 401, "invalid username or password"},
		{"not json", "POST", `username=alice`, 400, "JSON"},
		{"too large", "POST", `{"username":"` + strings.Repeat("a", 70*1024) + `"}`, 400, "64 KiB"},
		{"wrong method", "GET", "", 405, "GET not allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(tt.method, "/api/login", nil, tt.body)
			var reply struct {
				Error string `json:"error"`
			}
			decodeJSON(t, body, &reply)
			if resp.StatusCode != tt.status || !strings.Contains(reply.Error, tt.message) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, reply.Error, tt.status, tt.message)
			}
			if len(resp.Cookies()) != 0 {
				t.Fatalf("refused login set cookies %v", resp.Cookies())
			}
		})
	}
}

func TestLoginSecureCookie(t *testing.T) {
	e := newEnv(t, signaling.Config{SecureCookies: true})
	e.user("alice", false)
	if c := e.login("alice"); !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie = %+v, want Secure HttpOnly SameSite=Strict", c)
	}
}

func TestLoginRefusesCrossOrigin(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	req, err := http.NewRequest("POST", e.ts.URL+"/api/login", strings.NewReader(`{"username":"a","password":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", "https://evil.example")
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", resp.StatusCode)
	}
}

func TestMeAndLogout(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	e.user("root", true)

	if resp, _ := e.do("GET", "/api/me", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("me without cookie: %d", resp.StatusCode)
	}
	bogus := &http.Cookie{Name: "peerdesk_session", Value: "not-a-token"}
	if resp, _ := e.do("GET", "/api/me", bogus, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("me with bogus cookie: %d", resp.StatusCode)
	}

	cookie := e.login("root")
	resp, body := e.do("GET", "/api/me", cookie, "")
	var me struct {
		Username string `json:"username"`
		Admin    bool   `json:"admin"`
	}
	decodeJSON(t, body, &me)
	if resp.StatusCode != http.StatusOK || me.Username != "root" || !me.Admin {
		t.Fatalf("me: %d %+v", resp.StatusCode, me)
	}
	if resp, _ := e.do("POST", "/api/me", cookie, ""); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET" {
		t.Fatalf("POST /api/me: %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	resp, _ = e.do("POST", "/api/logout", cookie, "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if cs := resp.Cookies(); len(cs) != 1 || cs[0].Name != "peerdesk_session" || cs[0].MaxAge >= 0 {
		t.Fatalf("logout cookies = %v, want the session cookie cleared", cs)
	}
	if resp, _ := e.do("GET", "/api/me", cookie, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d", resp.StatusCode)
	}
	if resp, _ := e.do("POST", "/api/logout", cookie, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("second logout: %d", resp.StatusCode)
	}
}

type connectionItem struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Online bool   `json:"online"`
}

func (e *env) connections(cookie *http.Cookie) []connectionItem {
	e.t.Helper()
	resp, body := e.do("GET", "/api/connections", cookie, "")
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("connections: %d %s", resp.StatusCode, body)
	}
	var list []connectionItem
	decodeJSON(e.t, body, &list)
	return list
}

func TestConnections(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	e.user("root", true)
	alice := e.user("alice", false)
	e.user("carol", false)
	desk, token := e.connection("desk", alice)
	lab, _ := e.connection("lab")
	root, aliceCookie, carol := e.login("root"), e.login("alice"), e.login("carol")

	if resp, _ := e.do("GET", "/api/connections", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without cookie: %d", resp.StatusCode)
	}
	offline := []connectionItem{{int64(desk.ID), "desk", false}, {int64(lab.ID), "lab", false}}
	if got := e.connections(root); !equalItems(got, offline) {
		t.Fatalf("admin sees %+v, want %+v", got, offline)
	}
	if got := e.connections(aliceCookie); !equalItems(got, offline[:1]) {
		t.Fatalf("alice sees %+v, want %+v", got, offline[:1])
	}
	if resp, body := e.do("GET", "/api/connections", carol, ""); resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
		t.Fatalf("carol sees %d %s, want []", resp.StatusCode, body)
	}

	// The online flag follows the agent; the peer's state messages tell when it changed.
	peer := e.peer(aliceCookie, desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostUnavailable)
	agent := e.agent(token, desk)
	expectState(t, peer, proto.StateHostAvailable)
	if !e.srv.Online(desk.ID) || e.srv.Online(lab.ID) {
		t.Fatal("Online does not follow the agent")
	}
	online := []connectionItem{{int64(desk.ID), "desk", true}, {int64(lab.ID), "lab", false}}
	if got := e.connections(root); !equalItems(got, online) {
		t.Fatalf("admin sees %+v, want %+v", got, online)
	}
	agent.Close()
	expectState(t, peer, proto.StateHostUnavailable)
	if got := e.connections(root); !equalItems(got, offline) {
		t.Fatalf("after the agent left admin sees %+v, want %+v", got, offline)
	}
}

func equalItems(a, b []connectionItem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStaticAndHeaders(t *testing.T) {
	e := newEnv(t, signaling.Config{Static: fstest.MapFS{
		"index.html": {Data: []byte("<title>peerdesk</title>")},
		"app.js":     {Data: []byte("export {}")},
	}})
	for _, tt := range []struct {
		path   string
		status int
		body   string
	}{
		{"/", 200, "<title>peerdesk</title>"},
		{"/app.js", 200, "export {}"},
		{"/missing.js", 404, ""},
		{"/api/nothing", 404, `{"error":"no such API endpoint"}`},
	} {
		resp, body := e.do("GET", tt.path, nil, "")
		if resp.StatusCode != tt.status || (tt.body != "" && strings.TrimSpace(string(body)) != tt.body) {
			t.Errorf("GET %s = %d %q, want %d %q", tt.path, resp.StatusCode, body, tt.status, tt.body)
		}
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; frame-ancestors 'none'",
		} {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("GET %s: %s = %q, want %q", tt.path, h, got, want)
			}
		}
	}
}
