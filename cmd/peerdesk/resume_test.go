package main

import (
	"context"
	"sync"
	"testing"
	"time"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/relay/pipeline"
)

// Bounds the resume tests assert. unappliedBound is the most a reporting peer may hold
// unapplied: the relay's largest window (768 KiB) plus one TILES message and a cursor.
const (
	unappliedBound = 768<<10 + 64<<10 + 16<<10
	resumeFreeze   = 10 * time.Second
	resumeWatch    = 2 * time.Second
	resumeMaxGap   = 500 * time.Millisecond // 2.2 s before the fix
)

// frameTimes records when s's frame count changes, polling every 2 ms, until ctx ends.
func frameTimes(ctx context.Context, s *client.Session) []time.Time {
	var out []time.Time
	last := s.Frames()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return out
		case now := <-tick.C:
			if n := s.Frames(); n != last {
				last = n
				out = append(out, now)
			}
		}
	}
}

// frameRate counts s's FRAMEs over d.
func frameRate(s *client.Session, d time.Duration) float64 {
	n := s.Frames()
	time.Sleep(d) // a measurement window, not a wait for an event
	return float64(s.Frames()-n) / d.Seconds()
}

// watchUnapplied samples the most any reporting peer stream held unapplied, and the most
// waits for a peer (Behind), every 10 ms until stop is closed.
func watchUnapplied(h *harness, stop <-chan struct{}) (result func() (unapplied, behind uint64)) {
	var mu sync.Mutex
	var maxUnapplied, maxBehind uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, ps := range h.agent.Pipeline().PeerStats() {
				mu.Lock()
				maxUnapplied, maxBehind = max(maxUnapplied, ps.Unapplied), max(maxBehind, ps.Behind)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	return func() (uint64, uint64) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return maxUnapplied, maxBehind
	}
}

// TestResumedPeerCatchesUp is issue 11's point 12. A peer stopped reading its display channel
// for 10 s while the desktop kept changing, then read again: it used to get the burst its SCTP
// receive window held and then nothing for about 2 s (pion's receiver sends no window update
// when the application reads, so the relay learnt of the open window only from its zero-window
// probe, retransmitted at an RTO backed off to 3 s). Now the peer reports what it applied and
// the relay keeps at most a window (≤ 768 KiB) unapplied, so the transport's window never
// closes: the resumed peer's FRAMEs come at once and without a gap, the other peer kept its
// rate throughout, and the relay held at most the window for the stopped one.
func TestResumedPeerCatchesUp(t *testing.T) {
	// The band as tiles: this is about the tiles' flow control (TestSlowPeerDoesNotStallOthers
	// has the video case).
	h := newHarness(t, harnessConfig{demo: demo.Config{Width: 640, Height: 480, Busy: 50}, pipeline: pipeline.Config{NoVideo: true}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stopped := h.join(ctx, client.WithoutImageDecoding())
	other := h.join(ctx, client.WithoutImageDecoding())
	if err := stopped.WaitFrames(ctx, 10); err != nil {
		t.Fatal(err)
	}
	frameRate(other, time.Second) // warm-up: both peers hold the whole desktop
	base := frameRate(other, 2*time.Second)

	stop := make(chan struct{})
	result := watchUnapplied(h, stop)
	stopped.Freeze()
	time.Sleep(resumeFreeze - 2*time.Second) // the freeze itself is what is tested
	during := frameRate(other, 2*time.Second)
	close(stop)
	unapplied, behind := result()
	if unapplied > unappliedBound || behind == 0 {
		t.Errorf("while the peer was stopped the relay held %d bytes unapplied for it (bound %d) and waited for it %d times (want ≥ 1)", unapplied, unappliedBound, behind)
	}
	if during < 0.9*base {
		t.Errorf("the other peer got %.1f FRAMEs/s while one was stopped, %.1f before", during, base)
	}

	wctx, wcancel := context.WithTimeout(ctx, resumeWatch)
	defer wcancel()
	resumed := time.Now()
	stopped.Resume()
	times := frameTimes(wctx, stopped)
	prev, worst := resumed, time.Duration(0)
	for _, at := range times {
		worst = max(worst, at.Sub(prev))
		prev = at
	}
	worst = max(worst, time.Since(prev))
	t.Logf("other peer %.1f FRAMEs/s before, %.1f during; resumed peer: %d FRAMEs in %v, longest gap %v; relay held ≤ %d KiB unapplied",
		base, during, len(times), resumeWatch, worst.Round(time.Millisecond), unapplied>>10)
	if worst > resumeMaxGap {
		t.Errorf("the resumed peer went %v without a FRAME, want ≤ %v", worst.Round(time.Millisecond), resumeMaxGap)
	}
	if got := float64(len(times)) / resumeWatch.Seconds(); got < 0.8*base {
		t.Errorf("the resumed peer got %.1f FRAMEs/s, the other %.1f", got, base)
	}
}

// TestBrowserPageReports: the page reports the display bytes it applied, so a page whose
// script is blocked (3 s of busy work on its main thread) holds the relay to its window where
// the browser itself would buffer without bound, and it catches up at once when it runs again.
func TestBrowserPageReports(t *testing.T) {
	// The band as tiles: a page that takes video gets too few bytes to meet its window.
	h := newHarness(t, harnessConfig{demo: demo.Config{Width: 640, Height: 480, Busy: 50}, pipeline: pipeline.Config{NoVideo: true}})
	d := startDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d.do(map[string]any{"cmd": "open", "url": h.url})
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	d.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000})
	waitUntil(ctx, t, "the page reports what it applied", func() bool {
		st := h.agent.Pipeline().PeerStats()
		return len(st) == 1 && st[0].Reports
	})

	stop := make(chan struct{})
	result := watchUnapplied(h, stop)
	d.do(map[string]any{"cmd": "eval", "js": "{ const end = Date.now() + 3000; while (Date.now() < end); }"})
	framesAfter := d.do(map[string]any{"cmd": "state"})["frames"].(float64)
	close(stop)
	unapplied, behind := result()
	if unapplied > unappliedBound || behind == 0 {
		t.Errorf("while the page was blocked the relay held %d bytes unapplied for it (bound %d) and waited %d times (want ≥ 1)", unapplied, unappliedBound, behind)
	}
	start := time.Now()
	d.do(map[string]any{"cmd": "waitFrames", "min": framesAfter + 20, "timeout": 5000})
	t.Logf("page blocked 3 s: relay held ≤ %d KiB unapplied; 20 more FRAMEs within %v", unapplied>>10, time.Since(start).Round(time.Millisecond))
}
