package signaling_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/gorilla/websocket"

	"peerdesk/signaling/proto"
)

// TestLinkPasscode: a passcode profile's link comes with a six-digit passcode, shown once; the
// page learns a link needs one, a wrong one is refused (403 field passcode) on the API and the
// WebSocket, the right one lets the guest in, and misses are throttled per link.
func TestLinkPasscode(t *testing.T) {
	e := newShareEnv(t)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	var p profileJSON
	e.api("POST", fmt.Sprintf("/api/connections/%d/profiles", e.desk.ID), e.root, `{"name":"Locked","passcode":true}`, http.StatusCreated, &p)
	var l struct {
		URL      string `json:"url"`
		Passcode string `json:"passcode"`
	}
	e.api("POST", "/api/sessions/"+sid+"/links", e.alice, fmt.Sprintf(`{"profile":%d}`, p.ID), http.StatusCreated, &l)
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(l.Passcode) {
		t.Fatalf("link passcode %q", l.Passcode)
	}
	key := l.URL[len(l.URL)-43:]
	var info struct{ Passcode bool }
	e.api("POST", "/api/share", nil, `{"key":"`+key+`"}`, http.StatusOK, &info)
	if !info.Passcode {
		t.Fatal("the share reply does not say the link needs a passcode")
	}
	wrong := "123456"
	if wrong == l.Passcode {
		wrong = "654321"
	}
	var refused errorJSON
	e.api("POST", "/api/share", nil, `{"key":"`+key+`","passcode":"`+wrong+`"}`, http.StatusForbidden, &refused)
	if refused.Field != "passcode" {
		t.Fatalf("wrong passcode: %+v", refused)
	}
	e.api("POST", "/api/share", nil, `{"key":"`+key+`","passcode":"`+l.Passcode+`"}`, http.StatusOK, nil)
	dial := func(passcode string) (*websocket.Conn, *http.Response, error) {
		c, resp, err := websocket.DefaultDialer.Dial(e.wsURL("/ws/peer?share="+url.QueryEscape(key)+"&passcode="+url.QueryEscape(passcode)), nil)
		if c != nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		return c, resp, err
	}
	for _, pc := range []string{"", wrong} {
		if _, resp, err := dial(pc); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("WebSocket with passcode %q: %v (%v), want 403", pc, err, status(resp))
		}
	}
	c, resp, err := dial(l.Passcode)
	if err != nil {
		t.Fatalf("WebSocket with the passcode: %v (%v)", err, status(resp))
	}
	e.hello(c, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, false)
	// Five misses in all lock the link: the right passcode waits too.
	for range 2 {
		e.api("POST", "/api/share", nil, `{"key":"`+key+`","passcode":"`+wrong+`"}`, http.StatusForbidden, nil)
	}
	e.api("POST", "/api/share", nil, `{"key":"`+key+`","passcode":"`+l.Passcode+`"}`, http.StatusTooManyRequests, nil)
}

// TestSingleUseLink: a single-use link lets exactly one join in, then opens nothing; its
// listing says when it was used. The guest already in stays.
func TestSingleUseLink(t *testing.T) {
	e := newShareEnv(t)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	var p profileJSON
	e.api("POST", fmt.Sprintf("/api/connections/%d/profiles", e.desk.ID), e.root, `{"name":"Once","singleUse":true}`, http.StatusCreated, &p)
	_, key := e.link(e.alice, sid, p.ID)
	guest := e.join(key, nil, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, false)
	if _, resp, err := e.dialShare(key, nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("a second join: %v (%v), want 404", err, status(resp))
	}
	e.api("POST", "/api/share", nil, `{"key":"`+key+`"}`, http.StatusNotFound, nil)
	var links []struct {
		SingleUse bool    `json:"singleUse"`
		UsedAt    *string `json:"usedAt"`
	}
	e.api("GET", "/api/sessions/"+sid+"/links", e.alice, "", http.StatusOK, &links)
	if len(links) != 1 || !links[0].SingleUse || links[0].UsedAt == nil {
		t.Fatalf("links %+v", links)
	}
	send(t, guest, proto.Message{Type: proto.TypeOffer, SDP: "v=0"}) // still in: its offer reaches the agent
	expect(t, e.agent, proto.TypeOffer)
}
