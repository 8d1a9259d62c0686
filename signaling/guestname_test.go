package signaling_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"peerdesk/signaling/proto"
)

// TestNamedGuests: a guest joining through a link under a name is "<name> (guest)" for the
// agent (presence, toasts) and in History; the name is sanitised (control and bidi characters
// dropped, white space collapsed), none is Anonymous, a name too long is refused with a clear
// error, and a logged-in member keeps their username whatever the name says.
func TestNamedGuests(t *testing.T) {
	e := newShareEnv(t)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	p := e.profile("Guests", true, 0, 0)
	_, key := e.link(e.alice, sid, p.ID)
	dial := func(name string, cookie *http.Cookie) (*websocket.Conn, *http.Response, error) {
		h := http.Header{}
		if cookie != nil {
			h.Set("Cookie", cookie.String())
		}
		return websocket.DefaultDialer.Dial(e.wsURL("/ws/peer?share="+url.QueryEscape(key)+"&name="+url.QueryEscape(name)), h)
	}
	for raw, want := range map[string]string{
		"Ana":                     "Ana (guest)",
		"  Jean \t  Dupont  ":     "Jean Dupont (guest)",
		"Eve\u202e\u200dlive\x00": "Evelive (guest)",
		"":                        "Anonymous",
		"\u200b \u2066":           "Anonymous",
		"alice":                   "alice (guest)", // no passing as a user
	} {
		c, resp, err := dial(raw, nil)
		if err != nil {
			t.Fatalf("join as %q: %v (%v)", raw, err, status(resp))
		}
		e.hello(c, proto.Identity{Name: want, Role: proto.RoleGuest}, true)
		_ = c.Close()
		expect(t, e.agent, proto.TypeLeave)
	}
	for _, raw := range []string{strings.Repeat("x", 33), strings.Repeat("é", 200), "\xff\xfe"} {
		if _, resp, err := dial(raw, nil); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
			t.Errorf("join as a name of %d bytes: %v (%v), want 400", len(raw), err, status(resp))
		}
	}
	c, resp, err := dial("Someone Else", e.bob)
	if err != nil {
		t.Fatalf("member join: %v (%v)", err, status(resp))
	}
	e.hello(c, proto.Identity{Name: "bob", Role: proto.RoleMember}, true)

	var h struct {
		Sessions []struct {
			Participants []struct{ Name string }
		}
	}
	e.api("GET", "/api/history", e.root, "", http.StatusOK, &h)
	var names []string
	for _, p := range h.Sessions[0].Participants {
		names = append(names, p.Name)
	}
	for _, want := range []string{"Ana (guest)", "Jean Dupont (guest)", "Evelive (guest)", "Anonymous", "bob"} {
		if !slices.Contains(names, want) {
			t.Errorf("history names %q lack %q", names, want)
		}
	}
}
