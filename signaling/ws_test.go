package signaling_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
	"peerdesk/store"
)

func TestWebSocketAuth(t *testing.T) {
	e := newEnv(t, signaling.Config{AllowedOrigins: []string{"https://desk.example"}})
	alice := e.user("alice", false)
	e.user("carol", false)
	desk, _ := e.connection("desk", alice)
	aliceCookie, carol := e.login("alice"), e.login("carol")

	t.Run("agent", func(t *testing.T) {
		for _, token := range []string{"", "not-a-token"} {
			if _, resp, err := e.dialAgent(token); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("agent token %q: %v %s, want 401", token, err, status(resp))
			}
		}
	})
	t.Run("peer", func(t *testing.T) {
		for _, tt := range []struct {
			name   string
			cookie *http.Cookie
			id     store.ConnectionID
			origin string
			status int
		}{
			{"no cookie", nil, desk.ID, e.ts.URL, 401},
			{"logged out cookie", &http.Cookie{Name: "peerdesk_session", Value: "x"}, desk.ID, "", 401},
			{"cross origin", aliceCookie, desk.ID, "https://evil.example", 403},
			{"no permission", carol, desk.ID, e.ts.URL, 403},
			{"no such connection", aliceCookie, desk.ID + 100, e.ts.URL, 404},
			{"bad connection id", aliceCookie, -1, e.ts.URL, 400},
			{"same origin", aliceCookie, desk.ID, e.ts.URL, 101},
			{"allowed origin", aliceCookie, desk.ID, "https://desk.example", 101},
			{"no origin (Go client)", aliceCookie, desk.ID, "", 101},
		} {
			c, resp, err := e.dialPeer(tt.cookie, tt.id, tt.origin)
			if resp == nil || resp.StatusCode != tt.status {
				t.Errorf("%s: %v %s, want %d", tt.name, err, status(resp), tt.status)
				continue
			}
			if c != nil {
				expect(t, c, proto.TypeHello)
				c.Close()
			}
		}
	})
}

// relayEnv has one connection "desk" shared by alice and bob, both logged in.
type relayEnv struct {
	*env
	desk       store.Connection
	token      string
	alice, bob *http.Cookie
}

func newRelayEnv(t *testing.T) *relayEnv { return newRelayEnvWith(t, signaling.Config{}) }

// newRelayEnvWith is newRelayEnv on a server of cfg (its ICE servers set).
func newRelayEnvWith(t *testing.T, cfg signaling.Config) *relayEnv {
	cfg.ICEServers = []proto.ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}}
	e := newEnv(t, cfg)
	alice, bob := e.user("alice", false), e.user("bob", false)
	desk, token := e.connection("desk", alice, bob)
	return &relayEnv{env: e, desk: desk, token: token, alice: e.login("alice"), bob: e.login("bob")}
}

func expectJoin(t *testing.T, agent *websocket.Conn, want proto.Identity) string {
	t.Helper()
	join := expect(t, agent, proto.TypeJoin)
	if join.Peer == "" || join.Identity == nil || *join.Identity != want || join.ReadOnly {
		t.Fatalf("join = %+v identity %+v, want %+v", join, join.Identity, want)
	}
	return join.Peer
}

func TestRelay(t *testing.T) {
	e := newRelayEnv(t)
	agent := e.agent(e.token, e.desk)
	alice := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	aliceID := expectJoin(t, agent, proto.Identity{Name: "alice", Role: proto.RoleOwner})

	// Peer → agent: the offer and candidates carry the peer id.
	send(t, alice, proto.Message{Type: proto.TypeOffer, SDP: "v=0 alice offer"})
	if m := expect(t, agent, proto.TypeOffer); m.Peer != aliceID || m.SDP != "v=0 alice offer" {
		t.Fatalf("agent got offer %+v", m)
	}
	mid := "0"
	send(t, alice, proto.Message{Type: proto.TypeCandidate, Candidate: &proto.Candidate{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", SDPMid: &mid}})
	if m := expect(t, agent, proto.TypeCandidate); m.Peer != aliceID || m.Candidate == nil || m.Candidate.Candidate != "candidate:1 1 udp 1 127.0.0.1 5000 typ host" || *m.Candidate.SDPMid != "0" {
		t.Fatalf("agent got candidate %+v", m)
	}

	// Agent → peer: without the peer field.
	send(t, agent, proto.Message{Type: proto.TypeAnswer, Peer: aliceID, SDP: "v=0 answer"})
	if m := expect(t, alice, proto.TypeAnswer); m.SDP != "v=0 answer" || m.Peer != "" {
		t.Fatalf("peer got answer %+v", m)
	}
	send(t, agent, proto.Message{Type: proto.TypeCandidate, Peer: aliceID, Candidate: &proto.Candidate{Candidate: "candidate:2"}})
	if m := expect(t, alice, proto.TypeCandidate); m.Candidate == nil || m.Candidate.Candidate != "candidate:2" || m.Peer != "" {
		t.Fatalf("peer got candidate %+v", m)
	}
	send(t, agent, proto.Message{Type: proto.TypeError, Peer: aliceID, Code: proto.CodeBadSDP, Message: "no data channels"})
	if m := expect(t, alice, proto.TypeError); m.Code != proto.CodeBadSDP || m.Message != "no data channels" || m.Peer != "" {
		t.Fatalf("peer got error %+v", m)
	}
	send(t, agent, proto.Message{Type: proto.TypeAnswer, Peer: "nobody", SDP: "v=0"})
	expectError(t, agent, proto.CodeUnknownPeer)

	// A second participant is a member; the agent learns of it, and of alice leaving.
	bob := e.peer(e.bob, e.desk.ID, proto.Identity{Name: "bob", Role: proto.RoleMember}, proto.StateHostAvailable)
	bobID := expectJoin(t, agent, proto.Identity{Name: "bob", Role: proto.RoleMember})
	if bobID == aliceID {
		t.Fatal("two peers share an id")
	}
	alice.Close()
	if m := expect(t, agent, proto.TypeLeave); m.Peer != aliceID {
		t.Fatalf("leave = %+v, want peer %s", m, aliceID)
	}

	// The agent goes: bob hears it, and an offer is refused until it is back.
	agent.Close()
	expectState(t, bob, proto.StateHostUnavailable)
	send(t, bob, proto.Message{Type: proto.TypeOffer, SDP: "v=0 bob offer"})
	expectError(t, bob, proto.CodeHostUnavailable)

	agent = e.agent(e.token, e.desk)
	expectState(t, bob, proto.StateHostAvailable)
	if got := expectJoin(t, agent, proto.Identity{Name: "bob", Role: proto.RoleMember}); got != bobID {
		t.Fatalf("join for %s after reconnect, want %s", got, bobID)
	}
	send(t, bob, proto.Message{Type: proto.TypeOffer, SDP: "v=0 bob offer"})
	if m := expect(t, agent, proto.TypeOffer); m.Peer != bobID || m.SDP != "v=0 bob offer" {
		t.Fatalf("agent got offer %+v", m)
	}
}

func TestAgentReplaced(t *testing.T) {
	e := newRelayEnv(t)
	first := e.agent(e.token, e.desk)
	alice := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	aliceID := expectJoin(t, first, proto.Identity{Name: "alice", Role: proto.RoleOwner})

	second := e.agent(e.token, e.desk)
	if code := expectClosed(t, first); code != proto.CloseReplaced {
		t.Fatalf("replaced agent closed with %d, want %d", code, proto.CloseReplaced)
	}
	if got := expectJoin(t, second, proto.Identity{Name: "alice", Role: proto.RoleOwner}); got != aliceID {
		t.Fatalf("new agent got join for %s, want %s", got, aliceID)
	}
	expectState(t, alice, proto.StateHostUnavailable)
	expectState(t, alice, proto.StateHostAvailable)
	send(t, alice, proto.Message{Type: proto.TypeOffer, SDP: "v=0 again"})
	if m := expect(t, second, proto.TypeOffer); m.Peer != aliceID {
		t.Fatalf("new agent got offer %+v", m)
	}
	if !e.srv.Online(e.desk.ID) {
		t.Fatal("connection offline after the old agent was closed")
	}
}

func TestBadInput(t *testing.T) {
	e := newRelayEnv(t)
	agent := e.agent(e.token, e.desk)
	alice := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	expectJoin(t, agent, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	bob := e.peer(e.bob, e.desk.ID, proto.Identity{Name: "bob", Role: proto.RoleMember}, proto.StateHostAvailable)
	bobID := expectJoin(t, agent, proto.Identity{Name: "bob", Role: proto.RoleMember})

	bobOffers := func(sdp string) {
		t.Helper()
		send(t, bob, proto.Message{Type: proto.TypeOffer, SDP: sdp})
		if m := expect(t, agent, proto.TypeOffer); m.Peer != bobID || m.SDP != sdp {
			t.Fatalf("agent got %+v, want bob's offer %q", m, sdp)
		}
	}

	for _, tt := range []struct {
		name  string
		frame string
		code  string
	}{
		{"not json", `{"type":`, proto.CodeBadMessage},
		{"no type", `{"sdp":"v=0"}`, proto.CodeBadMessage},
		{"unknown type", `{"type":"dance"}`, proto.CodeUnknownType},
		{"agent-only type", `{"type":"answer","sdp":"v=0"}`, proto.CodeUnknownType},
		{"offer without sdp", `{"type":"offer"}`, proto.CodeBadMessage},
		{"sdp too large", `{"type":"offer","sdp":"` + strings.Repeat("a", proto.MaxSDP+1) + `"}`, proto.CodeBadMessage},
		{"candidate without candidate", `{"type":"candidate"}`, proto.CodeBadMessage},
		{"grows past the limit when re-encoded", `{"type":"offer","sdp":"` + strings.Repeat("<", 30000) + `"}`, proto.CodeBadMessage},
	} {
		sendRaw(t, alice, []byte(tt.frame))
		expectError(t, alice, tt.code)
		bobOffers("v=0 after " + tt.name)
	}
	if err := alice.WriteMessage(websocket.BinaryMessage, []byte(`{"type":"offer","sdp":"v=0"}`)); err != nil {
		t.Fatal(err)
	}
	expectError(t, alice, proto.CodeBadMessage)

	// The agent's bad frames are answered too.
	sendRaw(t, agent, []byte(`[]`))
	expectError(t, agent, proto.CodeBadMessage)
	send(t, agent, proto.Message{Type: proto.TypeOffer, Peer: bobID, SDP: "v=0"})
	expectError(t, agent, proto.CodeUnknownType)
	send(t, agent, proto.Message{Type: proto.TypeAnswer, SDP: "v=0"})
	expectError(t, agent, proto.CodeBadMessage)
	sendRaw(t, agent, []byte(`{"type":"error","peer":"`+bobID+`","code":"bad-sdp","message":"`+strings.Repeat("<", 20000)+`"}`))
	expectError(t, agent, proto.CodeBadMessage)
	bobOffers("v=0 after the agent's bad frames")

	// An oversized frame trips the read limit, which closes the sender (1009, or a reset
	// when the unread frame is still in the server's buffer); the others carry on.
	// The write itself may fail: the server can close before the frame is through.
	_ = alice.WriteMessage(websocket.TextMessage, []byte(`{"type":"offer","sdp":"`+strings.Repeat("a", proto.MaxMessage)+`"}`))
	if code := expectClosed(t, alice); code != websocket.CloseMessageTooBig && code != -1 {
		t.Fatalf("oversized frame closed with %d, want %d", code, websocket.CloseMessageTooBig)
	}
	expect(t, agent, proto.TypeLeave)
	bobOffers("v=0 after oversized")
}

func TestTooManyBadFrames(t *testing.T) {
	e := newRelayEnv(t)
	agent := e.agent(e.token, e.desk)
	alice := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	expectJoin(t, agent, proto.Identity{Name: "alice", Role: proto.RoleOwner})

	// Refusals that happen in normal operation do not count.
	for range 30 {
		send(t, agent, proto.Message{Type: proto.TypeCandidate, Peer: "gone", Candidate: &proto.Candidate{}})
		expectError(t, agent, proto.CodeUnknownPeer)
	}
	for range 21 {
		sendRaw(t, alice, []byte("nonsense"))
	}
	errors := 0
	for {
		m, err := read(t, alice)
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != websocket.ClosePolicyViolation {
				t.Fatalf("after %d errors: %v, want close %d", errors, err, websocket.ClosePolicyViolation)
			}
			break
		}
		if m.Type != proto.TypeError || m.Code != proto.CodeBadMessage {
			t.Fatalf("got %+v", m)
		}
		errors++
	}
	if errors != 20 {
		t.Fatalf("%d errors before the close, want 20", errors)
	}
	expect(t, agent, proto.TypeLeave)
	send(t, agent, proto.Message{Type: proto.TypeAnswer, Peer: "x", SDP: "v=0"})
	expectError(t, agent, proto.CodeUnknownPeer) // the agent is still served
}

// TestSlowPeer: a peer that stops reading is disconnected once its queue is full, while the
// agent and the other peer carry on.
func TestSlowPeer(t *testing.T) {
	e := newRelayEnv(t)
	agent := e.agent(e.token, e.desk)
	e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	aliceID := expectJoin(t, agent, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	bob := e.peer(e.bob, e.desk.ID, proto.Identity{Name: "bob", Role: proto.RoleMember}, proto.StateHostAvailable)
	bobID := expectJoin(t, agent, proto.Identity{Name: "bob", Role: proto.RoleMember})

	// alice never reads again. The agent floods her with large candidates; the test reads
	// the agent's side until alice's leave arrives, which proves she was cut off.
	big := proto.Message{Type: proto.TypeCandidate, Peer: aliceID, Candidate: &proto.Candidate{Candidate: strings.Repeat("c", 60*1024)}}.Encode()
	stop := make(chan struct{})
	flooded := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				flooded <- nil
				return
			default:
			}
			if err := agent.WriteMessage(websocket.TextMessage, big); err != nil {
				flooded <- err
				return
			}
		}
	}()
	for {
		m, err := read(t, agent)
		if err != nil {
			t.Fatalf("agent: %v", err)
		}
		if m.Type == proto.TypeLeave && m.Peer == aliceID {
			break
		}
		if m.Type != proto.TypeError || m.Code != proto.CodeUnknownPeer {
			t.Fatalf("agent got %+v", m)
		}
	}
	close(stop)
	if err := <-flooded; err != nil {
		t.Fatalf("agent write: %v", err)
	}

	// Bob still works both ways. The agent may still hear unknown-peer for the last floods.
	send(t, agent, proto.Message{Type: proto.TypeAnswer, Peer: bobID, SDP: "v=0 for bob"})
	if m := expect(t, bob, proto.TypeAnswer); m.SDP != "v=0 for bob" {
		t.Fatalf("bob got %+v", m)
	}
	send(t, bob, proto.Message{Type: proto.TypeOffer, SDP: "v=0 bob"})
	for {
		m, err := read(t, agent)
		if err != nil {
			t.Fatalf("agent: %v", err)
		}
		if m.Type == proto.TypeOffer && m.Peer == bobID {
			break
		}
		if m.Type != proto.TypeError || m.Code != proto.CodeUnknownPeer {
			t.Fatalf("agent got %+v", m)
		}
	}
}

func TestCloseEndsWebSockets(t *testing.T) {
	e := newRelayEnv(t)
	ignore := goleak.IgnoreCurrent()
	agent := e.agent(e.token, e.desk)
	alice := e.peer(e.alice, e.desk.ID, proto.Identity{Name: "alice", Role: proto.RoleOwner}, proto.StateHostAvailable)
	bob := e.peer(e.bob, e.desk.ID, proto.Identity{Name: "bob", Role: proto.RoleMember}, proto.StateHostAvailable)

	done := make(chan error, 1)
	go func() { done <- e.srv.Close() }()
	for name, c := range map[string]*websocket.Conn{"agent": agent, "alice": alice, "bob": bob} {
		if code := expectClosed(t, c); code != websocket.CloseGoingAway {
			t.Errorf("%s closed with %d, want %d", name, code, websocket.CloseGoingAway)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := e.srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if e.srv.Online(e.desk.ID) {
		t.Fatal("agent still online after Close")
	}
	goleak.VerifyNone(t, ignore)

	// A WebSocket opened after Close is closed at once.
	c, _, err := e.dialAgent(e.token)
	if err != nil {
		t.Fatalf("dial after Close: %v", err)
	}
	if code := expectClosed(t, c); code != websocket.CloseGoingAway {
		t.Fatalf("after Close: closed with %d, want %d", code, websocket.CloseGoingAway)
	}
}

// TestAgentDialThrottle: an address that opened 60 agent handshakes within moments (valid
// token or not) is refused with 429 and Retry-After before any token lookup; an agent retrying
// at its backoff (at most one a second) never is.
func TestAgentDialThrottle(t *testing.T) {
	e := newRelayEnv(t)
	bad := strings.Repeat("A", 43) // well formed, unknown
	for i := range 60 {
		if _, resp, _ := e.dialAgent(bad); resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("handshake %d: %v, want 401", i+1, status(resp))
		}
	}
	_, resp, _ := e.dialAgent(e.token)
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the 61st handshake: %v, want 429 with Retry-After", status(resp))
	}
}
