package signaling_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
	"peerdesk/signaling/turn"
)

const iceSecret = "signaling-test-secret-0123"

// TestICEServersInHelloAndRefreshed: peers and agents get the static ICE servers plus TURN
// credentials of their own in hello, and fresh ones before those expire.
func TestICEServersInHelloAndRefreshed(t *testing.T) {
	const ttl = time.Minute
	// The issuer's clock runs ttl-1.5s behind: its credentials expire 0.5-1.5 s from now,
	// so the server refreshes them after its minimum of a second.
	creds, err := turn.NewCredentials(iceSecret, ttl, []string{"turn:127.0.0.1:3478?transport=udp"},
		func() time.Time { return time.Now().Add(-ttl + 1500*time.Millisecond) })
	if err != nil {
		t.Fatal(err)
	}
	static := proto.ICEServer{URLs: []string{"stun:127.0.0.1:3478"}}
	e := newEnv(t, signaling.Config{ICEServers: []proto.ICEServer{static}, ICEProvider: creds})
	alice := e.user("alice", false)
	desk, token := e.connection("desk", alice)

	check := func(who string, ice []proto.ICEServer, suffix string) string {
		t.Helper()
		if len(ice) != 2 || ice[0].URLs[0] != static.URLs[0] || ice[1].URLs[0] != "turn:127.0.0.1:3478?transport=udp" {
			t.Fatalf("%s ICE servers = %+v", who, ice)
		}
		u := ice[1]
		if !strings.HasSuffix(u.Username, ":"+suffix) || u.Credential != turn.Password([]byte(iceSecret), u.Username) {
			t.Fatalf("%s TURN credential %q does not name %q or is badly signed", who, u.Username, suffix)
		}
		return u.Username
	}

	agent, resp, err := e.dialAgent(token)
	if err != nil {
		t.Fatalf("dial agent: %v (%v)", err, status(resp))
	}
	hello := expect(t, agent, proto.TypeHello)
	agentUser := check("agent hello", hello.ICEServers, turn.AgentIdentityPrefix+strconv.FormatInt(int64(desk.ID), 10))

	peer, resp, err := e.dialPeer(e.login("alice"), desk.ID, e.ts.URL)
	if err != nil {
		t.Fatalf("dial peer: %v (%v)", err, status(resp))
	}
	hello = expect(t, peer, proto.TypeHello)
	join := expect(t, agent, proto.TypeJoin)
	// The peer's identity is its socket, in the group of its user (alice, the first user).
	peerIdentity := "peer-" + join.Peer + turn.GroupSeparator + "u1"
	peerUser := check("peer hello", hello.ICEServers, peerIdentity)

	for _, c := range []struct {
		who, suffix, first string
		ws                 *websocket.Conn
	}{{"agent", turn.AgentIdentityPrefix + strconv.FormatInt(int64(desk.ID), 10), agentUser, agent}, {"peer", peerIdentity, peerUser, peer}} {
		for { // skip the host state and the like
			m, err := read(t, c.ws)
			if err != nil {
				t.Fatalf("%s: no ice-servers: %v", c.who, err)
			}
			if m.Type == proto.TypeICEServers {
				if u := check(c.who+" refresh", m.ICEServers, c.suffix); u == c.first {
					t.Fatalf("%s refresh repeats credential %q", c.who, u)
				}
				break
			}
		}
	}
}
