package relay

import (
	"testing"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// TestHandoff: a participant that must ask for control is gated until the owner gives it
// control, and again once the owner takes it back; only the owner hands control out or flips
// the switch (which gates every full-access non-owner); a viewer cannot ask; the holder
// leaving frees control; every participant is told the state.
func TestHandoff(t *testing.T) {
	h := newHandoff()
	mk := func(id, role string, readOnly, ask bool) *peer {
		return &peer{id: id, identity: wire.Identity{Name: id, Role: role}, readOnly: readOnly, askControl: ask}
	}
	owner, guest, member, viewer := mk("o", proto.RoleOwner, false, false), mk("g", proto.RoleGuest, false, true),
		mk("m", proto.RoleMember, false, false), mk("v", proto.RoleGuest, true, true)
	last := map[string]wire.Control{}
	for _, p := range []*peer{owner, guest, member, viewer} {
		h.join(p.id, p.identity.Name, func(b []byte) {
			c, err := wire.DecodeControl(b)
			if err != nil || c.Type != wire.ControlControl {
				t.Fatalf("control message %s: %v", b, err)
			}
			last[p.id] = c
		})
	}
	gated := func(want map[*peer]bool) {
		t.Helper()
		for p, g := range want {
			if h.gated(p) != g {
				t.Errorf("%s gated %v, want %v", p.id, !g, g)
			}
		}
	}
	do := func(p *peer, c wire.Control, wantCode string) {
		t.Helper()
		if code, msg := h.handle(p, c); code != wantCode {
			t.Errorf("%s %s: %q %q, want %q", p.id, c.Type, code, msg, wantCode)
		}
	}
	gated(map[*peer]bool{owner: false, guest: true, member: false, viewer: false})
	do(guest, wire.Control{Type: wire.ControlRequestControl}, "")
	if r := last["o"].Requests; len(r) != 1 || r[0].Peer != "g" {
		t.Fatalf("the owner sees requests %+v", r)
	}
	do(viewer, wire.Control{Type: wire.ControlRequestControl}, wire.CodeNotAllowed)
	do(member, wire.Control{Type: wire.ControlGiveControl, Peer: "g"}, wire.CodeNotAllowed)
	do(owner, wire.Control{Type: wire.ControlGiveControl, Peer: "nobody"}, wire.CodeNotAllowed)
	do(owner, wire.Control{Type: wire.ControlGiveControl, Peer: "g"}, "")
	gated(map[*peer]bool{guest: false})
	if c := last["m"]; c.Holder == nil || c.Holder.Name != "g" || len(c.Requests) != 0 {
		t.Fatalf("a member sees %+v", c)
	}
	do(owner, wire.Control{Type: wire.ControlHandoff, On: true}, "")
	gated(map[*peer]bool{member: true, guest: false, owner: false})
	do(owner, wire.Control{Type: wire.ControlTakeControl}, "")
	gated(map[*peer]bool{guest: true})
	do(guest, wire.Control{Type: wire.ControlReleaseControl}, "") // not the holder: nothing
	do(owner, wire.Control{Type: wire.ControlGiveControl, Peer: "m"}, "")
	gated(map[*peer]bool{member: false})
	h.leave("m")
	if c := last["o"]; c.Holder != nil || !c.On {
		t.Fatalf("after the holder left the owner sees %+v", c)
	}
	gated(map[*peer]bool{member: true})
}
