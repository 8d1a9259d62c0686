package main

import (
	"context"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/relay/demo"
)

// TestForcedRelayTURN: with the embedded TURN server on loopback (allow-listed), a Go peer
// allowed relay candidates only receives the desktop and sends input, and its selected
// candidate pair is a relayed one.
func TestForcedRelayTURN(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, turn: loopbackTURN})
	if h.srv.turn == nil {
		t.Fatal("no embedded TURN server started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	se := *loopbackEngine()
	se.SetRelayAcceptanceMinWait(50 * time.Millisecond) // pion waits 2 s for relay pairs by default
	start := time.Now()
	p := h.join(ctx, client.WithSettingEngine(se), client.WithRelayOnly())
	t.Logf("relay-only join to first frame: %v", time.Since(start))
	waitHost(ctx, t, p, h.desk)

	pair := p.SelectedCandidatePair()
	if pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("selected pair %v, want a local relay candidate", pair)
	}
	if n := h.srv.turn.Allocations(); n == 0 {
		t.Fatal("the TURN server holds no allocation")
	}
	m := scrape(ctx, t, h.url+"/metrics")
	if m["peerdesk_turn_allocations"] < 1 || m["peerdesk_turn_allocations_total"] < 1 || m["peerdesk_turn_relayed_bytes_total"] <= 0 {
		t.Errorf("TURN metrics %v, %v, %v: want the allocation and its bytes", m["peerdesk_turn_allocations"],
			m["peerdesk_turn_allocations_total"], m["peerdesk_turn_relayed_bytes_total"])
	}

	clickChangesHost(ctx, t, h, p)
}

// TestTURNAllocationsEndWithSocket: when a relay-only peer's signaling socket closes, its
// TURN allocations end at once (not when pion's refresh would lapse) and its credentials stop
// working, while another peer's keep relaying.
func TestTURNAllocationsEndWithSocket(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, turn: loopbackTURN})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	se := *loopbackEngine()
	se.SetRelayAcceptanceMinWait(50 * time.Millisecond)
	gone := h.join(ctx, client.WithSettingEngine(se), client.WithRelayOnly())
	kept := h.join(ctx, client.WithSettingEngine(se), client.WithRelayOnly())
	waitHost(ctx, t, gone, h.desk)
	waitHost(ctx, t, kept, h.desk)
	before := h.srv.turn.Stats().Quotas
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	for st := h.srv.turn.Stats().Quotas; st.EndedAllocations == before.EndedAllocations; st = h.srv.turn.Stats().Quotas {
		select {
		case <-ctx.Done():
			t.Fatalf("no allocation ended with the socket: %+v", st)
		case <-time.After(20 * time.Millisecond):
		}
	}
	clickChangesHost(ctx, t, h, kept) // the other peer's relay is untouched
}
