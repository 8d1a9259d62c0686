package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"peerdesk/relay"
)

// TestBrowserHandoff: through a link whose profile makes guests ask for control, a full-access
// guest watches — the keys she types are dropped at the relay and counted — until she asks and
// the owner gives her control; then they reach the host; once the owner takes control back,
// they are dropped again.
func TestBrowserHandoff(t *testing.T) {
	h, do, link := sharedSession(t, map[string]any{"name": "Helpers", "askControl": true})
	url, _ := link["url"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	until := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond) // the agent's counters have no event to wait on
		}
	}
	stats := func() relay.AgentStats { return h.agent.Stats() }
	do("ana", "openShare", map[string]any{"url": url, "context": "ana", "name": "Ana"})

	if r := do("ana", "handoff", nil); r["mustAsk"] != true || r["holder"] != "" {
		t.Fatalf("Ana's control bar: %v", r)
	}
	typed := func(text string, applied bool) {
		t.Helper()
		a0, n0 := stats().InputApplied, stats().InputDroppedNoControl
		do("ana", "type", map[string]any{"text": text})
		if applied {
			until("her keys applied", func() bool { return stats().InputApplied >= a0+2 })
		} else {
			until("her keys dropped", func() bool { return stats().InputDroppedNoControl >= n0+2 })
			if a := stats().InputApplied; a != a0 {
				t.Errorf("%d of her keys reached the host without control", a-a0)
			}
		}
	}
	typed("a", false)
	do("ana", "handoff", map[string]any{"action": "request"})
	until("the owner seeing the request", func() bool {
		r, _ := do("main", "handoff", nil)["requests"].([]any)
		return slices.Contains(r, any("Ana (guest)"))
	})
	do("main", "handoff", map[string]any{"action": "give", "name": "Ana (guest)"})
	until("Ana holding control", func() bool { return do("ana", "handoff", nil)["holder"] == "Ana (guest)" })
	do("main", "presence", map[string]any{"count": float64(1), "tooltip": []string{"Ana (guest) (1) — has control"}}) // presence shows it
	typed("b", true)
	do("main", "handoff", map[string]any{"action": "take"})
	until("control back with the owner", func() bool { return do("ana", "handoff", nil)["holder"] == "" })
	typed("c", false)
}
