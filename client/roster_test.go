package client

import (
	"slices"
	"testing"

	"peerdesk/relay/wire"
)

// TestRosterFollowsPresence: presence messages update Roster, wake WaitRoster and arrive on
// Events; a malformed one is dropped and leaves the roster as it was.
func TestRosterFollowsPresence(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	h, s := joinDisplayed(ctx, t, 8, 8)
	if r := s.Roster(); r.Seq != 0 || r.Participants != nil {
		t.Fatalf("roster before any presence: %+v", r)
	}

	owner := wire.Participant{Name: "alice", Role: "owner", Connections: 1}
	anon := wire.Participant{Name: "Anonymous", Role: "guest", ReadOnly: true, Connections: 2}
	h.sendControl(wire.Control{Type: wire.ControlPresence, Seq: 3, Participants: []wire.Participant{owner}})
	h.sendControl(wire.Control{Type: wire.ControlPresence, Seq: 4, Participants: []wire.Participant{{Name: "", Role: "guest", Connections: 1}}})
	h.sendControl(wire.Control{Type: wire.ControlPresence, Seq: 5, Participants: []wire.Participant{anon, owner}, Joined: []wire.Participant{anon}})
	if err := s.WaitRoster(ctx, func(r Roster) bool { return r.Seq == 5 }); err != nil {
		t.Fatal(err)
	}
	r := s.Roster()
	if !slices.Equal(r.Participants, []wire.Participant{anon, owner}) || r.Connections("Anonymous") != 2 || r.Connections("bob") != 0 {
		t.Fatalf("roster %+v", r)
	}
	r.Participants[0].Connections = 99 // a copy
	if s.Roster().Connections("Anonymous") != 2 {
		t.Fatal("Roster returned the session's own slice")
	}
	var seqs []uint64
	for len(seqs) < 2 {
		select {
		case ev := <-s.Events():
			if ev.Type == wire.ControlPresence {
				seqs = append(seqs, ev.Seq)
				if ev.Seq == 5 && !slices.Equal(ev.Joined, []wire.Participant{anon}) {
					t.Errorf("joined %+v", ev.Joined)
				}
			}
		case <-ctx.Done():
			t.Fatalf("presence events: got %v", seqs)
		}
	}
	if !slices.Equal(seqs, []uint64{3, 5}) {
		t.Fatalf("presence events of seq %v, want 3 and 5 (4 was malformed)", seqs)
	}
}

// TestLinkStats: link messages from the relay show in Stats, and arrive on Events.
func TestLinkStats(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	h, s := joinDisplayed(ctx, t, 8, 8)
	if st := s.Stats(); st.LinkLimited || st.LinkRate != 0 || st.LinkLighter {
		t.Fatalf("link stats before any link message: %+v", st)
	}
	wait := func(state string) {
		t.Helper()
		for {
			select {
			case ev := <-s.Events():
				if ev.Type == wire.ControlLink && ev.State == state {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no link %s event", state)
			}
		}
	}
	h.sendControl(wire.Control{Type: wire.ControlLink, State: wire.LinkLimited, Rate: 1_250_000, Lighter: true})
	wait(wire.LinkLimited)
	if st := s.Stats(); !st.LinkLimited || st.LinkRate != 1_250_000 || !st.LinkLighter {
		t.Fatalf("after a limited link message: %+v", st)
	}
	h.sendControl(wire.Control{Type: wire.ControlLink, State: wire.LinkOK, Rate: 9_000_000})
	wait(wire.LinkOK)
	if st := s.Stats(); st.LinkLimited || st.LinkRate != 9_000_000 || st.LinkLighter {
		t.Fatalf("after an ok link message: %+v", st)
	}
}
