package main

import (
	"context"
	"image"
	"testing"
	"time"

	"peerdesk/relay/demo"
)

// TestBrowserRestartRelayPathCut: real Chromium, relay-only (?relay=1) through the embedded
// TURN server on loopback, loses its path for 3.5 s: the TURN server stops, and its
// allocations die with it. A new server then listens on the same port with the same secret
// (so the page's URL and credential still hold) but knows nothing of the old allocation, so
// only the page's ICE restart, allocating anew, brings the path back. Within 15 s of the
// path's return, without a reload, the page has gone through "connecting" and shows connected
// on a relayed pair, a click changes the host desktop, and new frames show it.
func TestBrowserRestartRelayPathCut(t *testing.T) {
	const cut = 3500 * time.Millisecond
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, turn: loopbackTURN})
	if h.srv.turn == nil {
		t.Fatal("no embedded TURN server started")
	}
	d := startDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	d.openRelayOnly(h)
	click := image.Pt(150, 90)
	pts := samplePoints(320, 240, click.X, click.Y)
	d.waitCanvasMatches(ctx, pts, h.desk.Snapshot)
	if st := d.do(map[string]any{"cmd": "iceStats"}); st["localType"] != "relay" {
		t.Fatalf("selected pair %v, want a local relay candidate", st)
	}
	// A reload would lose these page globals: a marker and the log of #state's changes.
	if r := d.do(map[string]any{"cmd": "eval", "js": recordStatesJS}); r["value"] != float64(1) {
		t.Fatalf("eval: %v", r)
	}
	framesBefore, _ := d.do(map[string]any{"cmd": "state"})["frames"].(float64)

	// Cut: stop the TURN server, and with it the page's allocation, for cut.
	addr := h.srv.turn.UDPAddr().String()
	if err := h.srv.turn.Close(); err != nil {
		t.Fatalf("close TURN server: %v", err)
	}
	cutAt := time.Now()
	select {
	case <-time.After(cut):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}

	// Restore: a new server on the same port, with the harness's secret from the store.
	tf := loopbackTURN
	tf.udp = addr
	srv2, _, err := startTURN(ctx, h.st, &tf, testLogger(t, false))
	if err != nil {
		t.Fatalf("restart TURN server on %s: %v", addr, err)
	}
	h.srv.turn = srv2 // the harness closes it
	restored := time.Now()

	// The page noticed the dead path (its ICE restart shows "connecting"), then connected again.
	r := d.do(map[string]any{"cmd": "eval", "js": waitRestartedJS, "timeout": 15000})
	connected := time.Since(restored)
	ms, ok := r["value"].(float64)
	if !ok {
		t.Fatalf("eval: %v", r)
	}
	noticed := time.UnixMilli(int64(ms)).Sub(cutAt)
	rctx, rcancel := context.WithTimeout(ctx, 15*time.Second-connected)
	defer rcancel()
	d.clickShows(rctx, h, click, pts)
	resumed := time.Since(restored)
	t.Logf("path down %v; the page restarted ICE %v after the cut; after the path came back: connected in %v, click applied and pixels shown in %v",
		cut, noticed.Round(time.Millisecond), connected.Round(time.Millisecond), resumed.Round(time.Millisecond))

	st := d.do(map[string]any{"cmd": "state"})
	if frames, _ := st["frames"].(float64); st["state"] != "connected" || frames <= framesBefore {
		t.Fatalf("after the cut: %v, want connected with more than %v frames", st, framesBefore)
	}
	if r := d.do(map[string]any{"cmd": "eval", "js": "window.__marker"}); r["value"] != float64(1) {
		t.Fatalf("window.__marker is %v after the cut: the page reloaded", r["value"])
	}
	// The only relay is the new server's: the page's path is a fresh allocation on it.
	if ice := d.do(map[string]any{"cmd": "iceStats"}); ice["localType"] != "relay" {
		t.Fatalf("selected pair %v after the cut, want a local relay candidate", ice)
	}
	if srv2.Allocations() == 0 {
		t.Fatal("the new TURN server holds no allocation")
	}
}

// recordStatesJS sets window.__marker and logs every change of #state's data-state, with its
// time (unix ms), in window.__states.
const recordStatesJS = `(() => {
  const el = document.getElementById('state');
  window.__states = [];
  new MutationObserver(() => window.__states.push([el.dataset.state, Date.now()]))
    .observe(el, { attributes: true, attributeFilter: ['data-state'] });
  return (window.__marker = 1);
})()`

// waitRestartedJS waits until #state showed "connecting" since recordStatesJS and is
// "connected" again, and returns when it first showed "connecting" (unix ms).
const waitRestartedJS = `new Promise((resolve) => {
  const check = () => {
    const restart = window.__states.find(([s]) => s === 'connecting');
    if (restart && document.getElementById('state').dataset.state === 'connected') resolve(restart[1]);
    else setTimeout(check, 50);
  };
  check();
})`
