package main

import (
	"context"
	"testing"
	"time"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
)

// TestICERestartShortCut: a peer whose path is cut for 3 s (its WebSocket lives on) resumes
// on the same session and peer connection: a click after the path is back reaches the host
// and the new pixels come back within 10 s, and the roster never lost the peer.
func TestICERestartShortCut(t *testing.T) { testCutAndRestore(t, 3*time.Second) }

// TestICERestartLongCut: the same with a 30 s cut, long enough for ICE to fail on both sides:
// the peer's ICE restarts bring the same peer connection back within 10 s of the path's
// return. Slow by nature: about 45 s.
func TestICERestartLongCut(t *testing.T) { testCutAndRestore(t, 30*time.Second) }

func testCutAndRestore(t *testing.T, cut time.Duration) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), cut+45*time.Second)
	defer cancel()
	owner := h.join(ctx)
	se, conn := cuttableEngine(t)
	p := h.join(ctx, client.WithSettingEngine(*se))
	if err := owner.WaitRoster(ctx, func(r client.Roster) bool { return r.Connections(testAdmin) == 2 }); err != nil {
		t.Fatalf("roster %+v: %v", owner.Roster(), err)
	}
	waitHost(ctx, t, p, h.desk)
	pcs := p.Stats().PeerConnections

	conn.cut.Store(true)
	select {
	case <-time.After(cut):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	conn.cut.Store(false)
	restored := time.Now()

	// A click sent now waits in SCTP until the path is back, then changes the host desktop.
	before := h.desk.Snapshot()
	applied := h.agent.Stats().InputApplied
	for _, b := range []uint8{wire.ButtonLeft, 0} {
		if err := p.Pointer(60+int(cut/time.Second), 80, b); err != nil {
			t.Fatalf("pointer after the cut: %v", err)
		}
	}
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	waitApplied(rctx, t, h, applied+2)
	if diffPixels(before, h.desk.Snapshot()) == 0 {
		t.Fatal("the click did not change the host desktop")
	}
	waitHost(rctx, t, p, h.desk)
	resumed := time.Since(restored)
	st := p.Stats()
	t.Logf("cut %v: input applied and pixels back %v after the path returned (ICE restarts %d, peer connections %d)",
		cut, resumed.Round(time.Millisecond), st.ICERestarts, st.PeerConnections)
	if err := p.Err(); err != nil {
		t.Fatalf("the session ended: %v", err)
	}
	if st.PeerConnections != pcs {
		t.Fatalf("%d peer connections after the cut, %d before: the session did not resume on its connection", st.PeerConnections, pcs)
	}
	if cut >= 20*time.Second && st.ICERestarts == 0 {
		t.Fatal("no ICE restart after a cut long enough for ICE to fail")
	}
	// The owner's presence events never told of the peer leaving.
	for {
		select {
		case ev := <-owner.Events():
			for _, l := range ev.Left {
				if l.Name == testAdmin && cut < 20*time.Second {
					t.Fatalf("the roster lost the peer during a %v cut: %+v", cut, ev)
				} else if l.Name == testAdmin {
					t.Logf("the roster lost the peer during the cut (%+v)", ev.Left)
				}
			}
			continue
		default:
		}
		break
	}
	if err := owner.WaitRoster(rctx, func(r client.Roster) bool { return r.Connections(testAdmin) == 2 }); err != nil {
		t.Fatalf("roster %+v after the cut, want %s twice: %v", owner.Roster(), testAdmin, err)
	}
}
