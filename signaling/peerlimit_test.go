package signaling_test

import (
	"net/http"
	"testing"

	"peerdesk/signaling"
	"peerdesk/signaling/proto"
)

// expectTooMany checks that a peer WebSocket dial was refused with 429 and its message.
func expectTooMany(t *testing.T, what string, resp *http.Response, err error) {
	t.Helper()
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s: %v %s, want 429", what, err, status(resp))
	}
	var reply errorJSON
	decodeJSON(t, readAll(t, resp), &reply)
	if reply.Error != "too many open sessions" {
		t.Fatalf("%s: 429 error %q", what, reply.Error)
	}
}

func TestPeerCapPerUser(t *testing.T) {
	e := newShareEnvConfig(t, signaling.Config{MaxPeersPerUser: 2})
	p := e.profile("Watch", false, 0, 0)
	owner := proto.Identity{Name: "alice", Role: proto.RoleOwner}
	first, sid := e.open(e.alice, owner)
	_, key := e.link(e.alice, sid, p.ID)
	e.open(e.alice, owner)

	_, resp, err := e.dialPeer(e.alice, e.desk.ID, e.ts.URL)
	expectTooMany(t, "alice's third socket by connection", resp, err)
	_, resp, err = e.dialShare(key, e.alice)
	expectTooMany(t, "alice's third socket by share link", resp, err)

	// Other users, and guests, are counted apart.
	bob := proto.Identity{Name: "bob", Role: proto.RoleMember}
	e.open(e.bob, bob)
	e.join(key, e.bob, bob, false)
	e.join(key, nil, proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}, false)

	// A closed socket frees its slot, by either path.
	first.Close()
	expectLeave(t, e.agent)
	alice := e.join(key, e.alice, proto.Identity{Name: "alice", Role: proto.RoleMember}, false)
	_, resp, err = e.dialPeer(e.alice, e.desk.ID, e.ts.URL)
	expectTooMany(t, "alice's third socket again", resp, err)
	alice.Close()
	expectLeave(t, e.agent)
	e.open(e.alice, owner)
}

func TestPeerCapPerAddress(t *testing.T) {
	e := newShareEnvConfig(t, signaling.Config{MaxPeersPerAddress: 2})
	p := e.profile("Watch", false, 0, 0)
	_, sid := e.open(e.alice, proto.Identity{Name: "alice", Role: proto.RoleOwner})
	_, key := e.link(e.alice, sid, p.ID)
	guest := proto.Identity{Name: "Anonymous", Role: proto.RoleGuest}
	first := e.join(key, nil, guest, false)
	e.join(key, nil, guest, false)

	_, resp, err := e.dialShare(key, nil)
	expectTooMany(t, "third anonymous socket", resp, err)

	// Logged-in users on the same address are counted by user.
	bob := proto.Identity{Name: "bob", Role: proto.RoleMember}
	e.join(key, e.bob, bob, false)
	e.join(key, e.bob, bob, false)
	e.join(key, e.carol, proto.Identity{Name: "carol", Role: proto.RoleMember}, false)

	first.Close()
	expectLeave(t, e.agent)
	e.join(key, nil, guest, false)
	_, resp, err = e.dialShare(key, nil)
	expectTooMany(t, "third anonymous socket again", resp, err)
}
