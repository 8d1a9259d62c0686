package pipeline

import (
	"image"
	"math/rand/v2"
	"testing"
	"time"
)

// waitUntilStats polls s's stats every millisecond until cond holds, for at most waitTimeout.
func waitUntilStats(t *testing.T, s *PeerStream, cond func(PeerStats) bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("stats never met the condition: %+v", s.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPeerThatReportsIsHeldToItsWindow: a peer whose transport takes everything at once (as a
// browser's does, whatever its page does with it) but which reports applying nothing more is
// sent at most a window beyond its last report; a report lets the stream go on; a report of
// more than was sent is ignored, and the stream is then held by its transport alone.
func TestPeerThatReportsIsHeldToItsWindow(t *testing.T) {
	p := newTestPipeline(t, Config{})
	peers, streams := addPeers(t, p, 1)
	peer, s := peers[0], streams[0]
	rnd := rand.New(rand.NewPCG(5, 5))
	frame := image.NewRGBA(image.Rect(0, 0, 512, 384))
	change := func() {
		fillNoise(frame, frame.Rect, rnd, 128)
		p.Update(frame, []image.Rectangle{frame.Rect})
	}
	change()
	peer.waitSeq(p.Stats().Seq)
	base := s.Stats().Bytes
	s.Consumed(uint32(base)) // the peer applied everything so far, and reports from now on

	// Noise tiles are about 4 KiB each: ten full changes are far more than the window.
	for range 10 {
		change()
	}
	waitUntilStats(t, s, func(st PeerStats) bool { return st.Behind > 0 })
	st := s.Stats()
	if st.Unapplied < minConsumeWindow || st.Unapplied > maxConsumeWindow+64<<10 || !st.Reports {
		t.Fatalf("held with %d bytes unapplied (window %d..%d): %+v", st.Unapplied, minConsumeWindow, maxConsumeWindow, st)
	}

	s.Consumed(uint32(st.Bytes)) // the peer caught up
	peer.waitSeq(p.Stats().Seq)
	assertMatches(t, p.Snapshot(), peer, defaultTileSize)

	// A report ahead of what was sent does not hold the stream.
	s.Consumed(uint32(s.Stats().Bytes) + 1<<30)
	for range 10 {
		change()
	}
	peer.waitSeq(p.Stats().Seq)
	assertMatches(t, p.Snapshot(), peer, defaultTileSize)
}
