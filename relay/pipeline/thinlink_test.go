package pipeline

import (
	"context"
	"crypto/sha256"
	"image"
	"image/color"
	"math/rand/v2"
	"peerdesk/relay/wire"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// simLink is a display channel over a simulated link, for tests in a synctest bubble: messages
// are transmitted one after the other in packets at rate bytes per second; a message reaches
// the peer (a fakePeer) delay after its last packet left, and each packet is acknowledged,
// leaving the buffer, delay after that, as SCTP's BufferedAmount counts them. Crossing the
// low-water threshold wakes the stream.
type simLink struct {
	peer  *fakePeer
	delay time.Duration

	mu        sync.Mutex
	rate      float64 // bytes per second
	queue     [][]byte
	off       int     // bytes of queue[0] already transmitted
	credit    float64 // bytes the link may transmit now
	flight    []simFlight
	buffered  uint64
	threshold uint64
	stream    *PeerStream
	delivered uint64
	sent      chan struct{} // one slot: wakes an idle link
}

// simSegment is the most bytes of a message the simulated link carries in one packet.
const simSegment = 1200

// simFlight is one packet in flight: n bytes, and the message it completes, if it is the
// message's last.
type simFlight struct {
	n        int
	msg      []byte
	arrive   time.Time
	acked    time.Time
	received bool
}

func newSimLink(t *testing.T, rate float64, delay time.Duration) *simLink {
	peer := newFakePeer(t)
	peer.skipJPEG = true // under -race, decoding the video's tiles would cost most of the test
	return &simLink{peer: peer, rate: rate, delay: delay, sent: make(chan struct{}, 1)}
}

// Send implements Sender.
func (l *simLink) Send(b []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.queue = append(l.queue, slices.Clone(b))
	l.buffered += uint64(len(b))
	select {
	case l.sent <- struct{}{}:
	default:
	}
	return nil
}

// BufferedAmount implements Sender.
func (l *simLink) BufferedAmount() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buffered
}

// SetBufferedAmountLowThreshold implements Sender.
func (l *simLink) SetBufferedAmountLowThreshold(th uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.threshold = th
}

// RTT implements RTTSender.
func (l *simLink) RTT() time.Duration { return 2 * l.delay }

func (l *simLink) setRate(rate float64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rate = rate
}

// run moves bytes over the link until ctx ends, sleeping from one event (a message
// transmitted, received or acknowledged) to the next.
func (l *simLink) run(ctx context.Context) {
	last := time.Now()
	for ctx.Err() == nil {
		now := time.Now()
		l.mu.Lock()
		l.credit += l.rate * now.Sub(last).Seconds()
		last = now
		for len(l.queue) > 0 && l.credit >= float64(min(simSegment, len(l.queue[0])-l.off)) {
			n := min(simSegment, len(l.queue[0])-l.off)
			l.credit -= float64(n)
			f := simFlight{n: n, arrive: now.Add(l.delay), acked: now.Add(2 * l.delay)}
			if l.off += n; l.off == len(l.queue[0]) {
				f.msg, l.queue, l.off = l.queue[0], l.queue[1:], 0 // its last segment
			}
			l.flight = append(l.flight, f)
		}
		if len(l.queue) == 0 {
			l.credit = 0 // an idle link saves no credit
		}
		var wake bool
		next := time.Duration(-1)
		kept := l.flight[:0]
		for _, f := range l.flight {
			if !f.received && !now.Before(f.arrive) {
				f.received = true
				if f.msg != nil {
					l.peer.mu.Lock()
					l.peer.apply(f.msg)
					l.peer.mu.Unlock()
				}
			}
			if !now.Before(f.acked) {
				before := l.buffered
				l.buffered -= uint64(f.n)
				l.delivered += uint64(f.n)
				wake = wake || (before > l.threshold && l.buffered <= l.threshold)
				continue
			}
			at := f.acked
			if !f.received {
				at = f.arrive
			}
			if d := at.Sub(now); next < 0 || d < next {
				next = d
			}
			kept = append(kept, f)
		}
		l.flight = kept
		if len(l.queue) > 0 {
			d := time.Duration((float64(min(simSegment, len(l.queue[0])-l.off)) - l.credit) / l.rate * float64(time.Second))
			if d = max(d, time.Microsecond); next < 0 || d < next {
				next = d
			}
		}
		s, sent := l.stream, l.sent
		l.mu.Unlock()
		if wake && s != nil {
			s.Wake()
		}
		if next < 0 {
			select { // idle until the next Send
			case <-sent:
			case <-ctx.Done():
			}
			continue
		}
		time.Sleep(next)
	}
}

// thinLinkDesk is a desktop for thin-link tests: a "video" region of photographic content that
// changes every frame, and a flat rest where markers (solid tiles) appear.
type thinLinkDesk struct {
	p     *Pipeline
	frame *image.RGBA
	video image.Rectangle
	phase int
	noise []uint8 // light noise under the video's gradient, precomputed: tests run under -race
}

func newThinLinkDesk(p *Pipeline, w, h int, video image.Rectangle) *thinLinkDesk {
	d := &thinLinkDesk{p: p, frame: image.NewRGBA(image.Rect(0, 0, w, h)), video: video, noise: make([]uint8, 1<<16)}
	rnd := rand.New(rand.NewPCG(7, 7))
	for i := range d.noise {
		d.noise[i] = uint8(rnd.IntN(96))
	}
	fill(d.frame, d.frame.Rect, color.RGBA{R: 0x20, G: 0x30, B: 0x40, A: 0xff})
	p.Update(d.frame, nil)
	return d
}

// play changes the video region every interval until ctx ends.
func (d *thinLinkDesk) play(ctx context.Context, interval time.Duration) {
	for ctx.Err() == nil {
		d.phase += 3
		d.fillVideo()
		d.p.Update(d.frame, []image.Rectangle{d.video})
		time.Sleep(interval)
	}
}

// fillVideo paints the video region with a moving gradient under light noise: photographic
// content whose JPEG is a few KiB per tile, like a video frame.
func (d *thinLinkDesk) fillVideo() {
	r, ph := d.video, d.phase
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := d.frame.Pix[d.frame.PixOffset(r.Min.X, y):][:4*r.Dx()]
		noise := d.noise[(y*977+ph*131)%(len(d.noise)-r.Dx()):]
		g := uint8(2*y + ph/2)
		for i, x := 0, r.Min.X; i < len(row); i, x = i+4, x+1 {
			n := noise[i/4]
			row[i], row[i+1], row[i+2], row[i+3] = uint8(x+ph)+n, g+n, uint8((x+y)/2)+n, 0xff
		}
	}
}

// mark paints the 64×64 tile at tx, ty in colour c, outside the video.
func (d *thinLinkDesk) mark(tx, ty int, c color.RGBA) {
	r := image.Rect(tx*64, ty*64, tx*64+64, ty*64+64)
	fill(d.frame, r, c)
	d.p.Update(d.frame, []image.Rectangle{r})
}

// thinLinkRun is what one simulated run measured.
type thinLinkRun struct {
	lags    []time.Duration // change of a marker tile → its pixels at the peer
	frames  float64         // FRAMEs per second at the peer
	link    Link            // the stream's view of the link at the end
	reports []Link          // what OnLink reported
	bytes   float64         // bytes per second the peer received
}

// runThinLink plays the video on a desktop whose peer's link carries rate bytes per second,
// delay one way, for span, marking a tile outside the video every 250 ms, and measures. Run in a bubble.
func runThinLink(t *testing.T, rate float64, delay, span time.Duration) thinLinkRun {
	p := newTestPipeline(t, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	l := newSimLink(t, rate, delay)
	var run thinLinkRun
	var rmu sync.Mutex
	s := p.AddPeer(l, PeerOptions{OnLink: func(k Link) {
		rmu.Lock()
		run.reports = append(run.reports, k)
		rmu.Unlock()
	}})
	l.mu.Lock()
	l.stream = s
	l.mu.Unlock()
	d := newThinLinkDesk(p, 1280, 720, image.Rect(384, 192, 832, 448))
	var wg sync.WaitGroup
	wg.Go(func() { l.run(ctx) })
	wg.Go(func() { d.play(ctx, 40*time.Millisecond) })
	time.Sleep(2 * time.Second) // the first full frame and the estimator settle
	l.peer.mu.Lock()
	frames0 := l.peer.frames
	l.peer.mu.Unlock()
	l.mu.Lock()
	bytes0 := l.delivered
	l.mu.Unlock()
	start := time.Now()
	for i := 0; time.Since(start) < span; i++ {
		tx, ty := i%4, 9+i%2 // the bottom rows, where a pass from the top reaches last
		if i%8 >= 4 {
			tx += 16
		}
		c := color.RGBA{R: uint8(10 + i), G: 0x80, B: uint8(255 - i), A: 0xff}
		d.mark(tx, ty, c)
		marked := time.Now()
		l.peer.waitFor("a marker", func() bool { return l.peer.fb.RGBAAt(tx*64+32, ty*64+32) == c })
		run.lags = append(run.lags, time.Since(marked))
		time.Sleep(250*time.Millisecond - time.Since(marked)%(250*time.Millisecond))
	}
	elapsed := time.Since(start).Seconds()
	l.peer.mu.Lock()
	run.frames = float64(l.peer.frames-frames0) / elapsed
	l.peer.mu.Unlock()
	l.mu.Lock()
	run.bytes = float64(l.delivered-bytes0) / elapsed
	l.mu.Unlock()
	run.link = s.Stats().Link
	cancel()
	wg.Wait()
	s.Close()
	return run
}

func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// TestThinLinkStaysLive: a peer whose link carries about half of what a playing video
// produces still sees a change elsewhere on the screen within the bounds of the thin-link
// issue, gets at least 10 updates a second, is told its link is the limit with a rate close to
// the link's, and gets the lighter rendition.
func TestThinLinkStaysLive(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, c := range []struct {
			name     string
			rate     float64
			delay    time.Duration // one way
			p50, p90 time.Duration
			frames   float64
			shaped   bool
		}{
			{"unshaped", 100e6, 10 * time.Millisecond, 60 * time.Millisecond, 80 * time.Millisecond, 20, false},
			// A long path of ten times the desktop's rate: in-flight data fills the
			// transport's buffer, but the link is not the limit.
			{"long fat path", 25e6, 75 * time.Millisecond, 130 * time.Millisecond, 150 * time.Millisecond, 20, false},
			{"10 Mbit/s", 1.25e6, 10 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, 10, true},
			{"2 Mbit/s", 0.25e6, 10 * time.Millisecond, 500 * time.Millisecond, time.Second, 2, true},
		} {
			r := runThinLink(t, c.rate, c.delay, 4*time.Second)
			p50, p90 := percentile(r.lags, 0.5), percentile(r.lags, 0.9)
			t.Logf("%s: change → pixels p50 %v p90 %v, %.1f frames/s, %.0f KB/s received, link %+v, %d reports",
				c.name, p50, p90, r.frames, r.bytes/1000, r.link, len(r.reports))
			if p50 > c.p50 || p90 > c.p90 || r.frames < c.frames {
				t.Errorf("%s: p50 %v (want ≤ %v), p90 %v (≤ %v), %.1f frames/s (≥ %.0f)", c.name, p50, c.p50, p90, c.p90, r.frames, c.frames)
			}
			shaped := c.shaped
			lighter := slices.ContainsFunc(r.reports, func(l Link) bool { return l.Limited && l.Lighter })
			if r.link.Limited != shaped || lighter != shaped {
				t.Errorf("%s: link %+v after reports %+v, want limited, and the lighter rendition reported, %v", c.name, r.link, r.reports, shaped)
			}
			if ratio := float64(r.link.Rate) / c.rate; shaped && (ratio < 0.75 || ratio > 1.25) {
				t.Errorf("%s: measured %d B/s, %.2f of the link's rate", c.name, r.link.Rate, ratio)
			}
		}
	})
}

// TestThinLinkRecovers: once a thin link frees up, the peer goes back to full quality within
// about minHold (and no longer counts as limited probeQuiet later), however long it was thin, is told its link is no longer the limit, and the
// tiles it held at the lighter rendition are sent again at full quality, though the desktop no
// longer changes.
func TestThinLinkRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newTestPipeline(t, Config{})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		// The video costs about 250 kB/s at the lighter rendition, 500 at full quality:
		// tries of full quality fail, and the hold grows.
		l := newSimLink(t, 350e3, 10*time.Millisecond)
		l.peer.skipJPEG = false
		var reports []Link
		var rmu sync.Mutex
		s := p.AddPeer(l, PeerOptions{OnLink: func(k Link) {
			rmu.Lock()
			reports = append(reports, k)
			rmu.Unlock()
		}})
		l.mu.Lock()
		l.stream = s
		l.mu.Unlock()
		d := newThinLinkDesk(p, 320, 256, image.Rect(64, 64, 256, 192))
		var wg sync.WaitGroup
		wg.Go(func() { l.run(ctx) })
		vctx, stopVideo := context.WithCancel(ctx)
		wg.Go(func() { d.play(vctx, 40*time.Millisecond) })
		time.Sleep(16 * time.Second)
		if st := s.Stats(); !st.Link.Limited || st.LighterTiles == 0 {
			t.Fatalf("on the thin link: %+v, want limited, lighter tiles sent", st)
		}
		stopVideo()
		l.setRate(100e6)
		freed := time.Now()
		// An idle link tries full quality after minHold, whatever the hold is at.
		for st := s.Stats(); st.Link.Limited || st.Link.Lighter || st.Refined == 0 || st.Buffered > 0; st = s.Stats() {
			if time.Since(freed) > minHold+probeQuiet+time.Second {
				t.Fatalf("still lighter %v after the link freed up: %+v", time.Since(freed), s.Stats())
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // the last acknowledgements
		st := s.Stats()
		assertFullQuality(t, p, l.peer)
		l.peer.mu.Lock()
		lastMsg := l.peer.log[len(l.peer.log)-1]
		l.peer.mu.Unlock()
		if lastMsg != wire.MsgFrame { // a page presents the refined tiles at a FRAME
			t.Fatalf("the refined tiles were not followed by a FRAME (last message 0x%02x)", lastMsg)
		}
		rmu.Lock()
		last := reports[len(reports)-1]
		rmu.Unlock()
		if st.Link.Limited || last.Limited || last.Lighter {
			t.Fatalf("after recovery: stats %+v, last report %+v; want neither limited nor lighter", st.Link, last)
		}
		cancel()
		wg.Wait()
		s.Close()
		if s.adapt.hold < 8*time.Second { // the stream's goroutine is done
			t.Fatalf("the hold reached %v only: this test does not show the idle link's early try", s.adapt.hold)
		}
	})
}

// assertFullQuality checks that the last tile the peer received at each place is the full
// rendition of the tile's current version.
func assertFullQuality(t *testing.T, p *Pipeline, peer *fakePeer) {
	t.Helper()
	var v view
	p.view(&v)
	peer.mu.Lock()
	defer peer.mu.Unlock()
	for i, tl := range v.tiles {
		tl.encMu.Lock()
		e := tl.enc[full]
		tl.encMu.Unlock()
		if e.version != v.versions[i] || !peer.received[tileKey{x: tl.rect.Min.X, y: tl.rect.Min.Y, sum: sha256.Sum256(e.data)}] {
			t.Fatalf("the peer lacks the full rendition of version %d of the tile at %v (cached: version %d)", v.versions[i], tl.rect.Min, e.version)
		}
	}
}
