package signaling_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
)

// TestLoginThrottle: a username that failed five times is refused (429 with Retry-After), even
// with the right password, from any address, without its hash being computed; another user
// logs in; an address that failed ten times is refused for every username.
func TestLoginThrottle(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	e.user("alice", false)
	e.user("bob", false)
	login := func(user, password string) *http.Response {
		t.Helper()
		resp, _ := e.do("POST", "/api/login", nil, `{"username":"`+user+`","password":"`+password+`"}`)
		return resp
	}
	for i := range 5 {
		if resp := login("alice", "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := login("ALICE", "alice-password") // usernames are throttled regardless of case
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("alice's right password after 5 failures: %d, want 429", resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q, want 1..60 s", resp.Header.Get("Retry-After"))
	}
	if resp := login("bob", "bob-password"); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob: %d, want 200", resp.StatusCode)
	}
	// The address: ten failures in all (alice's five, and five more over other names).
	for i := range 5 {
		if resp := login("nobody"+strconv.Itoa(i), "wrong"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("address failure %d: %d, want 401", 6+i, resp.StatusCode)
		}
	}
	if resp := login("bob", "bob-password"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("bob from an address that failed 10 times: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if st := e.srv.Stats(); st.LoginsThrottled != 2 {
		t.Fatalf("%d logins throttled, want 2", st.LoginsThrottled)
	}
}

// TestJoinRateLimit: one address may open joinsPerAddress (60) peer sockets in a burst, each a
// history row; beyond that it gets 429 with Retry-After until its budget refills, so that a
// client cannot write history rows (or announce joins to the agent) at will. The server's
// clock stands still, so that a slow machine refills no budget during the burst.
func TestJoinRateLimit(t *testing.T) {
	still := time.Now()
	e := newRelayEnvWith(t, signaling.Config{Now: func() time.Time { return still }})
	e.agent(e.token, e.desk)
	opened := 0
	for range 100 {
		ws, resp, err := e.dialPeer(e.alice, e.desk.ID, e.ts.URL)
		if err != nil {
			if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("after %d sockets: %v (%s)", opened, err, status(resp))
			}
			break
		}
		opened++
		ws.Close()
	}
	if opened != 60 {
		t.Fatalf("%d sockets opened before the rate limit, want 60", opened)
	}
	if n := e.srv.Stats().JoinsThrottled; n != 1 {
		t.Fatalf("%d joins throttled, want 1", n)
	}
}

// TestConcurrentLogins: many logins of one user at once all succeed: only failures count
// against the throttles, and the gate makes the others wait their turn.
func TestConcurrentLogins(t *testing.T) {
	e := newEnv(t, signaling.Config{})
	e.user("alice", false)
	codes := make(chan int, 12)
	for range 12 {
		go func() {
			resp, _ := e.do("POST", "/api/login", nil, `{"username":"alice","password":"alice-password"}`)
			codes <- resp.StatusCode
		}()
	}
	for range 12 {
		if code := <-codes; code != http.StatusOK {
			t.Fatalf("a concurrent login got %d, want 200", code)
		}
	}
}

// TestLogoutEndsSockets: logging out ends the peer sockets opened with that login, with "You
// logged out"; the same user's other login keeps its socket.
func TestLogoutEndsSockets(t *testing.T) {
	e := newRelayEnv(t)
	agent := e.agent(e.token, e.desk)
	other := e.login("alice")
	p1 := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	p2 := e.peer(other, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	if resp, body := e.do("POST", "/api/logout", e.alice, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	m := expect(t, p1, proto.TypeState)
	if m.State != proto.StateEnded || m.Message != "You logged out" {
		t.Fatalf("after logout: %+v", m)
	}
	expectClosed(t, p1)
	send(t, p2, proto.Message{Type: proto.TypeOffer, SDP: "v=0 still here"})
	for { // the agent hears two joins and a leave, then the other login's offer
		m, err := read(t, agent)
		if err != nil {
			t.Fatalf("the other login's offer never reached the agent: %v", err)
		}
		if m.Type == proto.TypeOffer && m.SDP == "v=0 still here" {
			break
		}
	}
}
