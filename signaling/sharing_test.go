package signaling_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// testGrace is the owner grace of the sharing tests: short, so that sessions end quickly.
const testGrace = 200 * time.Millisecond

// pages stands in for web/static.
var pages = fstest.MapFS{
	"index.html":   {Data: []byte("<p>index</p>")},
	"invalid.html": {Data: []byte("<p>This link is invalid or has expired</p>")},
}

// clock is a settable clock for the store, to move past link expiries.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// shareEnv has connection "desk" permitted to alice and bob, an admin root and an
// unrelated user carol, all logged in, and desk's agent online.
type shareEnv struct {
	*env
	clock                   *clock
	desk                    store.Connection
	agent                   *websocket.Conn
	root, alice, bob, carol *http.Cookie
}

func newShareEnv(t *testing.T) *shareEnv {
	return newShareEnvConfig(t, signaling.Config{})
}

// newShareEnvConfig is newShareEnv with cfg's other fields.
func newShareEnvConfig(t *testing.T, cfg signaling.Config) *shareEnv {
	c := &clock{now: time.Now()}
	cfg.OwnerGrace, cfg.Static = testGrace, pages
	e := newEnv(t, cfg, store.WithClock(c.Now))
	e.user("root", true)
	alice, bob := e.user("alice", false), e.user("bob", false)
	e.user("carol", false)
	desk, token := e.connection("desk", alice, bob)
	se := &shareEnv{env: e, clock: c, desk: desk, root: e.login("root"), alice: e.login("alice"), bob: e.login("bob"), carol: e.login("carol")}
	se.agent = e.agent(token, desk)
	return se
}

// api sends a JSON request and checks the status; it decodes the reply into v if not nil.
func (e *env) api(method, path string, cookie *http.Cookie, body string, wantStatus int, v any) {
	e.t.Helper()
	resp, b := e.do(method, path, cookie, body)
	if resp.StatusCode != wantStatus {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
	}
	if v != nil {
		decodeJSON(e.t, b, v)
	}
}

type profileJSON struct {
	ID           int64     `json:"id"`
	Connection   int64     `json:"connection"`
	Name         string    `json:"name"`
	ReadOnly     bool      `json:"readOnly"`
	LinkLifetime int64     `json:"linkLifetime"`
	MaxGuests    int       `json:"maxGuests"`
	CreatedAt    time.Time `json:"createdAt"`
}

type linkJSON struct {
	ID      int64  `json:"id"`
	URL     string `json:"url"`
	Profile struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		ReadOnly bool   `json:"readOnly"`
	} `json:"profile"`
	CreatedAt time.Time  `json:"createdAt"`
	ExpiresAt *time.Time `json:"expiresAt"`
	RevokedAt *time.Time `json:"revokedAt"`
	Guests    int        `json:"guests"`
}

type errorJSON struct {
	Error string `json:"error"`
	Field string `json:"field"`
}

// profile creates a profile of desk as root.
func (e *shareEnv) profile(name string, readOnly bool, lifetime, maxGuests int) profileJSON {
	e.t.Helper()
	var p profileJSON
	e.api("POST", fmt.Sprintf("/api/connections/%d/profiles", e.desk.ID), e.root,
		fmt.Sprintf(`{"name":%q,"readOnly":%t,"linkLifetime":%d,"maxGuests":%d}`, name, readOnly, lifetime, maxGuests), http.StatusCreated, &p)
	return p
}

// link creates a link to session sid under profile as cookie's user and returns it with its key.
func (e *env) link(cookie *http.Cookie, sid string, profile int64) (linkJSON, string) {
	e.t.Helper()
	return e.linkAt(e.ts.URL, cookie, sid, profile)
}

// linkAt is link for a server whose share URLs start with origin.
func (e *env) linkAt(origin string, cookie *http.Cookie, sid string, profile int64) (linkJSON, string) {
	e.t.Helper()
	var l linkJSON
	e.api("POST", "/api/sessions/"+sid+"/links", cookie, fmt.Sprintf(`{"profile":%d}`, profile), http.StatusCreated, &l)
	key, ok := strings.CutPrefix(l.URL, origin+"/s/")
	if !ok || len(key) != 43 {
		e.t.Fatalf("link url %q is not %s/s/<43-char key>", l.URL, origin)
	}
	return l, key
}

// open opens desk as cookie's user and checks the hello; it returns the socket and the session id.
func (e *shareEnv) open(cookie *http.Cookie, want proto.Identity) (*websocket.Conn, string) {
	e.t.Helper()
	c, resp, err := e.dialPeer(cookie, e.desk.ID, e.ts.URL)
	if err != nil {
		e.t.Fatalf("dial peer: %v (%v)", err, status(resp))
	}
	return c, e.hello(c, want, false)
}

// hello reads a peer's hello and host state, checks them against desk and returns the
// session id; the agent's join must match.
func (e *shareEnv) hello(c *websocket.Conn, want proto.Identity, readOnly bool) string {
	e.t.Helper()
	h := expect(e.t, c, proto.TypeHello)
	if h.Identity == nil || *h.Identity != want || h.ReadOnly != readOnly {
		e.t.Fatalf("hello identity %+v readOnly %v, want %+v %v", h.Identity, h.ReadOnly, want, readOnly)
	}
	if h.Session == nil || len(h.Session.ID) < 20 || h.Session.Connection == nil ||
		*h.Session.Connection != (proto.Connection{ID: int64(e.desk.ID), Name: "desk"}) {
		e.t.Fatalf("hello session = %+v", h.Session)
	}
	expectState(e.t, c, proto.StateHostAvailable)
	join := expect(e.t, e.agent, proto.TypeJoin)
	if join.Identity == nil || *join.Identity != want || join.ReadOnly != readOnly {
		e.t.Fatalf("agent join %+v identity %+v, want %+v readOnly %v", join, join.Identity, want, readOnly)
	}
	return h.Session.ID
}

// dialShare opens /ws/peer?share=key, with cookie if not nil.
func (e *env) dialShare(key string, cookie *http.Cookie) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if cookie != nil {
		h.Set("Cookie", cookie.String())
	}
	c, resp, err := websocket.DefaultDialer.Dial(e.wsURL("/ws/peer?share="+url.QueryEscape(key)), h)
	if c != nil {
		e.t.Cleanup(func() { _ = c.Close() })
	}
	return c, resp, err
}

// join joins through key and checks the hello.
func (e *shareEnv) join(key string, cookie *http.Cookie, want proto.Identity, readOnly bool) *websocket.Conn {
	e.t.Helper()
	c, resp, err := e.dialShare(key, cookie)
	if err != nil {
		e.t.Fatalf("dial share: %v (%v)", err, status(resp))
	}
	e.hello(c, want, readOnly)
	return c
}

// expectEnded reads the ended state with message, then the close.
func expectEnded(t *testing.T, c *websocket.Conn, message string) {
	t.Helper()
	m := expect(t, c, proto.TypeState)
	if m.State != proto.StateEnded || m.Message != message {
		t.Fatalf("state %q %q, want ended %q", m.State, m.Message, message)
	}
	if code := expectClosed(t, c); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d, want %d", code, websocket.CloseNormalClosure)
	}
}

// expectLeave reads the agent's leave message.
func expectLeave(t *testing.T, agent *websocket.Conn) {
	t.Helper()
	if m := expect(t, agent, proto.TypeLeave); m.Peer == "" {
		t.Fatalf("leave without peer: %+v", m)
	}
}

// expectInvalid checks that key is refused as invalid on all three share endpoints.
func (e *env) expectInvalid(key string) {
	e.t.Helper()
	resp, body := e.do("GET", "/s/"+key, nil, "")
	if resp.StatusCode != http.StatusNotFound || string(body) != string(pages["invalid.html"].Data) ||
		resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		e.t.Fatalf("GET /s/: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	e.api("POST", "/api/share", nil, `{"key":"`+key+`"}`, http.StatusNotFound, nil)
	_, resp, err := e.dialShare(key, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		e.t.Fatalf("share WS: %v %s, want 404", err, status(resp))
	}
	var reply errorJSON
	decodeJSON(e.t, readAll(e.t, resp), &reply)
	if reply.Error != "This link is invalid or has expired" {
		e.t.Fatalf("share WS error %q", reply.Error)
	}
}

// readAll reads the body of a refused WebSocket dial.
func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

func TestSessionRoles(t *testing.T) {
	e := newShareEnv(t)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, sid2 := e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
	_, sid3 := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner}) // a second tab
	_, sid4 := e.open(e.root, proto.Identity{Name: "root", Role: proto.RoleMember})
	if sid2 != sid || sid3 != sid || sid4 != sid {
		t.Fatalf("session ids %q %q %q %q differ", sid, sid2, sid3, sid4)
	}
}

func TestOwnerLeavesEndsSession(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Full", false, 0, 0)
	alice, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	bob, _ := e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
	_, key := e.link(e.alice, sid, p.ID)
	guest := e.join(key, nil, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, false)

	start := time.Now()
	alice.Close()
	expectLeave(t, e.agent) // alice
	expectEnded(t, bob, "The session has ended")
	expectEnded(t, guest, "The session has ended")
	if d := time.Since(start); d < testGrace {
		t.Fatalf("session ended after %v, before the grace of %v", d, testGrace)
	}
	expectLeave(t, e.agent)
	expectLeave(t, e.agent)
	if n := signaling.LivePeers(e.srv); n != 0 {
		t.Fatalf("%d peers left", n)
	}
	e.expectInvalid(key)
	e.api("GET", "/api/sessions/"+sid+"/links", e.bob, "", http.StatusNotFound, nil)

	// The next one to open the connection starts a new session.
	_, sid2 := e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleOwner})
	if sid2 == sid {
		t.Fatal("the ended session was reused")
	}
}

func TestOwnerReloadKeepsSession(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Full", false, 0, 0)
	alice, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	bob, _ := e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
	_, key := e.link(e.alice, sid, p.ID)

	alice.Close()
	expectLeave(t, e.agent)
	_, sid2 := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	if sid2 != sid {
		t.Fatalf("session %q after the reload, want %q", sid2, sid)
	}
	// Well past the grace period, bob is still on and the link still works.
	_ = bob.SetReadDeadline(time.Now().Add(3 * testGrace))
	if _, b, err := bob.ReadMessage(); err == nil {
		t.Fatalf("bob got %s", b)
	}
	var reply struct {
		Session    string           `json:"session"`
		Connection proto.Connection `json:"connection"`
		ReadOnly   bool             `json:"readOnly"`
	}
	e.api("POST", "/api/share", nil, `{"key":"`+key+`"}`, http.StatusOK, &reply)
	if reply.Session != sid || reply.Connection != (proto.Connection{ID: int64(e.desk.ID), Name: "desk"}) || reply.ReadOnly {
		t.Fatalf("share reply %+v", reply)
	}
}

func TestShareJoin(t *testing.T) {
	e := newShareEnv(t)
	view := e.profile("View", true, 0, 0)
	full := e.profile("Full", false, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, viewKey := e.link(e.alice, sid, view.ID)
	_, fullKey := e.link(e.alice, sid, full.ID)

	resp, body := e.do("GET", "/s/"+viewKey, nil, "")
	if resp.StatusCode != http.StatusOK || string(body) != "<p>index</p>" || resp.Header.Get("Cache-Control") != "no-store" ||
		resp.Header.Get("Referrer-Policy") != "no-referrer" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /s/KEY: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	e.join(viewKey, nil, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, true)
	e.join(fullKey, nil, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, false)
	e.join(viewKey, e.carol, proto.Identity{Name: "carol", Role: proto.RoleMember}, true)
	// A stale cookie counts as none.
	e.join(fullKey, &http.Cookie{Name: "peerdesk_session", Value: "stale"}, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, false)

	var links []linkJSON
	e.api("GET", "/api/sessions/"+sid+"/links", e.alice, "", http.StatusOK, &links)
	if len(links) != 2 || links[0].Guests != 2 || links[1].Guests != 2 || links[0].Profile.Name != "View" ||
		!links[0].Profile.ReadOnly || links[0].URL != "" || links[0].RevokedAt != nil || links[0].ExpiresAt != nil {
		t.Fatalf("links = %+v", links)
	}
}

func TestMaxGuests(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Two", false, 0, 2)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, key := e.link(e.alice, sid, p.ID)
	guest := proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}
	first := e.join(key, nil, guest, false)
	e.join(key, e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember}, false)

	_, resp, err := e.dialShare(key, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("third guest: %v %s, want 409", err, status(resp))
	}
	var reply errorJSON
	decodeJSON(t, readAll(t, resp), &reply)
	if reply.Error != "This link has reached its guest limit" {
		t.Fatalf("409 error %q", reply.Error)
	}
	// The page asks before opening its WebSocket, whose status it cannot read.
	e.api("POST", "/api/share", nil, `{"key":"`+key+`"}`, http.StatusConflict, &reply)
	if reply.Error != "This link has reached its guest limit" {
		t.Fatalf("POST /api/share on a full link: %q", reply.Error)
	}
	// The owner joining by connection does not count.
	e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})

	first.Close()
	expectLeave(t, e.agent)
	e.join(key, nil, guest, false)
}

func TestRevokeLink(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Full", false, 0, 0)
	alice, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
	l1, key1 := e.link(e.alice, sid, p.ID)
	_, key2 := e.link(e.bob, sid, p.ID)
	guest := proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}
	g1 := e.join(key1, nil, guest, false)
	g2 := e.join(key2, nil, guest, false)

	path := fmt.Sprintf("/api/links/%d", l1.ID)
	e.api("DELETE", path, e.carol, "", http.StatusForbidden, nil)
	e.api("DELETE", path, nil, "", http.StatusUnauthorized, nil)
	start := time.Now()
	e.api("DELETE", path, e.alice, "", http.StatusNoContent, nil)
	expectEnded(t, g1, "This link was revoked")
	if d := time.Since(start); d > time.Second {
		t.Fatalf("guest disconnected after %v", d)
	}
	expectLeave(t, e.agent)
	e.expectInvalid(key1)
	e.api("DELETE", path, e.alice, "", http.StatusNoContent, nil) // idempotent

	// g2 and alice are still on.
	send(t, g2, proto.Message{Type: proto.TypeOffer, SDP: "v=0 g2"})
	if m := expect(t, e.agent, proto.TypeOffer); m.SDP != "v=0 g2" {
		t.Fatalf("agent got %+v", m)
	}
	send(t, alice, proto.Message{Type: proto.TypeOffer, SDP: "v=0 alice"})
	if m := expect(t, e.agent, proto.TypeOffer); m.SDP != "v=0 alice" {
		t.Fatalf("agent got %+v", m)
	}

	var links []linkJSON
	e.api("GET", "/api/sessions/"+sid+"/links", e.bob, "", http.StatusOK, &links)
	if len(links) != 2 || links[0].RevokedAt == nil || links[0].Guests != 0 || links[1].RevokedAt != nil || links[1].Guests != 1 {
		t.Fatalf("links = %+v", links)
	}
}

func TestDeleteProfileDisconnects(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Full", false, 0, 0)
	other := e.profile("Other", false, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, key1 := e.link(e.alice, sid, p.ID)
	_, key2 := e.link(e.alice, sid, p.ID)
	_, key3 := e.link(e.alice, sid, other.ID)
	guest := proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}
	g1 := e.join(key1, nil, guest, false)
	g2 := e.join(key2, nil, guest, false)
	e.join(key3, nil, guest, false)

	e.api("DELETE", fmt.Sprintf("/api/profiles/%d", p.ID), e.root, "", http.StatusNoContent, nil)
	expectEnded(t, g1, "This link was revoked")
	expectEnded(t, g2, "This link was revoked")
	e.expectInvalid(key1)
	var links []linkJSON
	e.api("GET", "/api/sessions/"+sid+"/links", e.alice, "", http.StatusOK, &links)
	if len(links) != 1 || links[0].Guests != 1 || links[0].Profile.Name != "Other" {
		t.Fatalf("links = %+v", links)
	}
}

func TestInvalidKeys(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Hour", false, 3600, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	l, key := e.link(e.alice, sid, p.ID)
	if l.ExpiresAt == nil || l.ExpiresAt.Sub(l.CreatedAt) != time.Hour {
		t.Fatalf("link = %+v, want an expiry an hour after creation", l)
	}
	revoked, revokedKey := e.link(e.alice, sid, p.ID)
	e.api("DELETE", fmt.Sprintf("/api/links/%d", revoked.ID), e.alice, "", http.StatusNoContent, nil)

	// Three misses each: the address stays within its ten.
	e.expectInvalid("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") // well-formed, unknown
	e.expectInvalid(revokedKey)
	e.clock.add(time.Hour)
	e.expectInvalid(key)
	if resp, body := e.do("GET", "/s/not-a-key", nil, ""); resp.StatusCode != http.StatusNotFound || string(body) != string(pages["invalid.html"].Data) {
		t.Fatalf("GET /s/not-a-key: %d %q", resp.StatusCode, body)
	}
}

func TestThrottle(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Full", false, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, key := e.link(e.alice, sid, p.ID)

	for i := range 10 {
		if resp, _ := e.do("GET", fmt.Sprintf("/s/unknown-%d", i), nil, ""); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("miss %d: %d", i, resp.StatusCode)
		}
	}
	// Now every share attempt from this address is refused, valid or not.
	var reply errorJSON
	e.api("POST", "/api/share", nil, `{"key":"`+key+`"}`, http.StatusTooManyRequests, &reply)
	if reply.Error != "Too many invalid links; try again later" {
		t.Fatalf("429 error %q", reply.Error)
	}
	if resp, _ := e.do("GET", "/s/"+key, nil, ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("GET /s/: %d, want 429", resp.StatusCode)
	}
	if _, resp, err := e.dialShare(key, nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("share WS: %v %s, want 429", err, status(resp))
	}
	// Joining by connection is not a share attempt.
	e.open(e.bob, proto.Identity{Name: "bob", Role: proto.RoleMember})
}

func TestEndSession(t *testing.T) {
	e := newShareEnv(t)
	alice, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	if err := e.srv.EndSession(context.Background(), signaling.SessionID(sid), "killed", "The session was ended by an administrator"); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	expectEnded(t, alice, "The session was ended by an administrator")
	expectLeave(t, e.agent)
	if err := e.srv.EndSession(context.Background(), signaling.SessionID(sid), "killed", "again"); !errors.Is(err, signaling.ErrSessionNotFound) {
		t.Fatalf("second EndSession = %v, want ErrSessionNotFound", err)
	}
}

// TestRaceJoinRevokeEnd joins through a link many times while the link is revoked and the
// session ends: whoever got in is disconnected, and no peer remains.
func TestRaceJoinRevokeEnd(t *testing.T) {
	e := newShareEnv(t)
	p := e.profile("Full", false, 0, 0)
	alice, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	l, key := e.link(e.alice, sid, p.ID)
	agentDone := make(chan struct{})
	go func() { // the agent answers nothing, but keeps reading
		defer close(agentDone)
		for {
			if _, _, err := e.agent.ReadMessage(); err != nil {
				return
			}
		}
	}()
	defer func() {
		e.agent.Close()
		<-agentDone
	}()

	const joiners = 16
	var wg sync.WaitGroup
	start := make(chan struct{})
	joined := make(chan struct{}, joiners)
	errs := make(chan error, joiners)
	for range joiners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c, resp, err := websocket.DefaultDialer.Dial(e.wsURL("/ws/peer?share="+key), nil)
			if err != nil {
				if resp == nil || resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusTooManyRequests {
					errs <- fmt.Errorf("dial: %v %s", err, status(resp))
				}
				return
			}
			joined <- struct{}{}
			defer c.Close()
			_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
						errs <- fmt.Errorf("joiner not closed normally: %v", err)
					}
					return
				}
				if m, _ := proto.Decode(b); m.Type == proto.TypeState && m.State == proto.StateEnded {
					if m.Message != "This link was revoked" && m.Message != "The session has ended" {
						errs <- fmt.Errorf("ended with %q", m.Message)
					}
				}
			}
		}()
	}
	close(start)
	select { // revoke while the others are joining
	case <-joined:
	case <-time.After(waitTimeout):
		t.Fatal("no joiner got in")
	}
	e.api("DELETE", fmt.Sprintf("/api/links/%d", l.ID), e.alice, "", http.StatusNoContent, nil)
	if err := e.srv.EndSession(context.Background(), signaling.SessionID(sid), "killed", "The session has ended"); err != nil {
		t.Fatalf("EndSession: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	expectEnded(t, alice, "The session has ended")
	if n := signaling.LivePeers(e.srv); n != 0 {
		t.Fatalf("%d peers still live", n)
	}
}

// TestPublicURL: behind a TLS-terminating proxy, share URLs use the configured public origin,
// which browsers may also use as their Origin; a bad PublicURL is refused.
func TestPublicURL(t *testing.T) {
	const public = "https://desk.example.com"
	e := newShareEnvConfig(t, signaling.Config{PublicURL: public + "/"})
	p := e.profile("Team", false, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, key := e.linkAt(public, e.alice, sid, p.ID)
	req, err := http.NewRequest("POST", e.ts.URL+"/api/share", strings.NewReader(`{"key":"`+key+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", public)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /api/share from the public origin: %d", resp.StatusCode)
	}
	for _, bad := range []string{"desk.example.com", "ftp://desk.example.com", "https://desk.example.com/app", "https://u:p@desk.example.com"} {
		if _, err := signaling.New(signaling.Config{Store: e.st, PublicURL: bad}); !errors.Is(err, signaling.ErrInvalidConfig) {
			t.Errorf("PublicURL %q: %v", bad, err)
		}
	}
}

// TestLinkExpiryDisconnectsGuests: when a link's lifetime ends, its guests are told "This link
// has expired" and disconnected within a second; the owner and the guests of other links stay.
func TestLinkExpiryDisconnectsGuests(t *testing.T) {
	e := newShareEnv(t)
	short := e.profile("Short", true, 60, 0)
	forever := e.profile("Forever", true, 0, 0)
	owner, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	e.clock.add(-58 * time.Second) // the store's clock: the link ends in 2 s of real time
	link, key := e.link(e.alice, sid, short.ID)
	_, otherKey := e.link(e.alice, sid, forever.ID)
	anon := proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}
	guest := e.join(key, nil, anon, true)
	other := e.join(otherKey, nil, anon, true)
	if link.ExpiresAt == nil {
		t.Fatal("the link has no expiry")
	}
	expectEnded(t, guest, "This link has expired")
	if late := time.Since(*link.ExpiresAt); late > time.Second {
		t.Fatalf("the guest was disconnected %v after the link expired, want within 1 s", late)
	}
	// The others carry on: a state message to the owner still reaches it, the other guest too.
	e.agent.Close()
	expectState(t, owner, proto.StateHostUnavailable)
	expectState(t, other, proto.StateHostUnavailable)
}
