package main

import (
	"context"
	"image"
	"testing"
	"time"

	"peerdesk/relay/demo"
	"peerdesk/signaling/turn"
)

// TestBrowserTURNRelayOnly: real Chromium with the page's diagnostics option ?relay=1
// (iceTransportPolicy "relay"), against the embedded TURN server on loopback (allow-listed),
// shows the host's desktop, its selected candidate pair is a relayed one, and its click
// changes the host.
func TestBrowserTURNRelayOnly(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, turn: loopbackTURN})
	if h.srv.turn == nil {
		t.Fatal("no embedded TURN server started")
	}
	d := startDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	start := time.Now()
	d.openRelayOnly(h)
	t.Logf("relay-only page: connected with a frame %v after opening the page", time.Since(start).Round(time.Millisecond))
	click := image.Pt(100, 120)
	pts := samplePoints(320, 240, click.X, click.Y)
	d.waitCanvasMatches(ctx, pts, h.desk.Snapshot)

	st := d.do(map[string]any{"cmd": "iceStats"})
	if st["localType"] != "relay" {
		t.Fatalf("selected pair %v, want a local relay candidate", st)
	}
	if n := h.srv.turn.Allocations(); n == 0 {
		t.Fatal("the TURN server holds no allocation")
	}

	d.clickShows(ctx, h, click, pts)
}

// loopbackTURN is an embedded TURN server on loopback that may relay to loopback peers.
var loopbackTURN = turnFlags{udp: "127.0.0.1:0", ttl: turn.DefaultTTL, allow: "127.0.0.1/32"}

// openRelayOnly logs the page in with the ?relay=1 diagnostic (relay candidates only) and opens
// the demo connection, failing unless it is connected with a frame.
func (d *driver) openRelayOnly(h *harness) {
	d.t.Helper()
	d.do(map[string]any{"cmd": "open", "url": h.url + "/?relay=1"})
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	if r := d.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000}); r["state"] != "connected" {
		d.t.Fatalf("session view: %v", r)
	}
}
