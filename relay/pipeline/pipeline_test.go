package pipeline

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
)

func newTestPipeline(t *testing.T, cfg Config) *Pipeline {
	t.Helper()
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t))
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// addPeers starts n fake peers on p.
func addPeers(t *testing.T, p *Pipeline, n int) ([]*fakePeer, []*PeerStream) {
	peers := make([]*fakePeer, n)
	streams := make([]*PeerStream, n)
	for i := range peers {
		peers[i] = newFakePeer(t)
		streams[i] = p.AddPeer(peers[i], PeerOptions{})
	}
	return peers, streams
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r, &image.Uniform{C: c}, image.Point{}, draw.Src)
}

// fillNoise paints r with random pixels from a palette of n colours: PNG content when n ≤ 256,
// photographic (JPEG) content above.
func fillNoise(img *image.RGBA, r image.Rectangle, rnd *rand.Rand, n int) {
	pal := make([]color.RGBA, n)
	for i := range pal {
		pal[i] = color.RGBA{R: uint8(rnd.IntN(256)), G: uint8(rnd.IntN(256)), B: uint8(rnd.IntN(256)), A: 0xff}
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, pal[rnd.IntN(n)])
		}
	}
}

// fillPhoto paints r, inside a 330×200 image, with a smooth gradient of many colours (JPEG
// content).
func fillPhoto(img *image.RGBA, r image.Rectangle, phase int) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, color.RGBA{R: uint8(x/2 + phase), G: uint8(y + phase), B: uint8((x + y) / 3), A: 0xff})
		}
	}
}

func randRect(rnd *rand.Rand, b image.Rectangle) image.Rectangle {
	x, y := rnd.IntN(b.Dx()), rnd.IntN(b.Dy())
	return image.Rect(x, y, x+1+rnd.IntN(b.Dx()/2), y+1+rnd.IntN(b.Dy()/2)).Intersect(b)
}

func randColor(rnd *rand.Rand) color.RGBA {
	return color.RGBA{R: uint8(rnd.IntN(256)), G: uint8(rnd.IntN(256)), B: uint8(rnd.IntN(256)), A: 0xff}
}

// assertMatches checks that a peer's framebuffer equals the host's: exactly where the peer's
// last tile was PNG, within JPEG tolerance elsewhere.
func assertMatches(t *testing.T, host *image.RGBA, peer *fakePeer, tileSize int) {
	t.Helper()
	got, formats := peer.framebuffer()
	if got == nil || got.Rect != host.Rect {
		t.Fatalf("peer framebuffer %v, host %v", got, host.Rect)
	}
	for ty := 0; ty < host.Rect.Dy(); ty += tileSize {
		for tx := 0; tx < host.Rect.Dx(); tx += tileSize {
			r := image.Rect(tx, ty, tx+tileSize, ty+tileSize).Intersect(host.Rect)
			var sum, worst, n int
			for y := r.Min.Y; y < r.Max.Y; y++ {
				for x := r.Min.X; x < r.Max.X; x++ {
					i := host.PixOffset(x, y)
					for c := range 3 {
						d := int(host.Pix[i+c]) - int(got.Pix[i+c])
						d = max(d, -d)
						sum, worst, n = sum+d, max(worst, d), n+1
					}
				}
			}
			switch formats[r.Min] {
			case wire.FormatPNG, wire.FormatWebP, wire.FormatFill:
				if worst != 0 {
					t.Fatalf("lossless tile at %v differs from the host by up to %d", r.Min, worst)
				}
			case wire.FormatJPEG:
				if mean := float64(sum) / float64(n); mean > 6 || worst > 96 {
					t.Fatalf("JPEG tile at %v differs from the host: mean %.1f, max %d", r.Min, mean, worst)
				}
			default:
				t.Fatalf("peer never received the tile at %v", r.Min)
			}
		}
	}
}

func TestPipelineConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"defaults", Config{}, true},
		{"small tiles", Config{TileSize: 16}, true},
		{"tiny tiles", Config{TileSize: 8}, false},
		{"huge tiles", Config{TileSize: 128}, false},
		{"negative quality", Config{JPEGQuality: -1}, false},
		{"quality above 100", Config{JPEGQuality: 101}, false},
		{"low high water", Config{HighWater: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("New(%+v) = %v, want ok=%v", tt.cfg, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrConfig) {
				t.Fatalf("error %v is not ErrConfig", err)
			}
			if p != nil && (p.cfg.TileSize == 0 || p.cfg.JPEGQuality == 0 || p.cfg.HighWater == 0 || p.cfg.QueueDelay == 0 || p.cfg.LighterJPEGQuality == 0) {
				t.Fatalf("defaults not applied: %+v", p.cfg)
			}
		})
	}
}

func TestPipelineConverges(t *testing.T) {
	for _, n := range []int{1, 2, 5} {
		t.Run(string(rune('0'+n))+" peers", func(t *testing.T) {
			p := newTestPipeline(t, Config{})
			peers, _ := addPeers(t, p, n)
			rnd := rand.New(rand.NewPCG(1, uint64(n)))
			frame := image.NewRGBA(image.Rect(0, 0, 330, 200)) // edge tiles on both axes
			fill(frame, frame.Rect, color.RGBA{R: 30, G: 40, B: 50, A: 0xff})
			p.Update(frame, []image.Rectangle{frame.Rect})
			for i := range 12 {
				r := randRect(rnd, frame.Rect)
				if i%2 == 0 {
					fill(frame, r, randColor(rnd))
				} else {
					fillNoise(frame, r, rnd, 50)
				}
				p.Update(frame, []image.Rectangle{r})
			}
			// Photographic content last and on whole tiles, so that a JPEG tile holds
			// nothing else and its error is meaningful.
			for i, r := range []image.Rectangle{image.Rect(64, 0, 192, 64), image.Rect(128, 64, 330, 200)} {
				fillPhoto(frame, r, 40*i)
				p.Update(frame, []image.Rectangle{r})
			}
			seq := p.Stats().Seq
			for _, f := range peers {
				f.waitSeq(seq)
				assertMatches(t, p.Snapshot(), f, defaultTileSize)
			}
			formats := map[wire.Format]bool{}
			_, fm := peers[0].framebuffer()
			for _, f := range fm {
				formats[f] = true
			}
			if !formats[wire.FormatPNG] && !formats[wire.FormatWebP] || !formats[wire.FormatJPEG] || !formats[wire.FormatFill] {
				t.Fatalf("formats used %v, want fill, PNG or WebP, and JPEG", formats)
			}
		})
	}
}

func TestPipelineEncodesOnce(t *testing.T) {
	p := newTestPipeline(t, Config{})
	peers, _ := addPeers(t, p, 5)
	frame := image.NewRGBA(image.Rect(0, 0, 320, 192))
	p.Update(frame, []image.Rectangle{frame.Rect})
	rnd := rand.New(rand.NewPCG(2, 2))
	for i := range 40 {
		var damage []image.Rectangle
		for range 3 {
			tx, ty := rnd.IntN(5), rnd.IntN(3)
			r := image.Rect(tx*64, ty*64, tx*64+64, ty*64+64)
			// Every version of every tile gets a colour of its own, so distinct encodings
			// are distinct versions.
			fill(frame, r, color.RGBA{R: uint8(i + 1), G: uint8(tx), B: uint8(ty), A: 0xff})
			damage = append(damage, r)
		}
		p.Update(frame, damage)
	}
	seq := p.Stats().Seq
	received := map[tileKey]bool{}
	for _, f := range peers {
		f.waitSeq(seq)
		assertMatches(t, p.Snapshot(), f, defaultTileSize)
		f.mu.Lock()
		for k := range f.received {
			received[k] = true
		}
		f.mu.Unlock()
	}
	st := p.Stats()
	if st.Encodes != uint64(len(received)) {
		t.Fatalf("%d encodes for %d distinct tile versions received", st.Encodes, len(received))
	}
	if st.Encodes > st.TileVersions || st.Encodes < 15 {
		t.Fatalf("%d encodes for %d tile versions of 15 tiles", st.Encodes, st.TileVersions)
	}
}

func TestPipelineSlowConsumer(t *testing.T) {
	const highWater = 8 << 10
	p := newTestPipeline(t, Config{HighWater: highWater})
	peers, streams := addPeers(t, p, 2)
	fast, slow := peers[0], peers[1]
	rnd := rand.New(rand.NewPCG(3, 3))
	// About 4 KiB of PNG per tile: a change of every tile takes several messages.
	frame := image.NewRGBA(image.Rect(0, 0, 512, 384))
	fillNoise(frame, frame.Rect, rnd, 128)
	p.Update(frame, []image.Rectangle{frame.Rect})
	slow.waitSeq(p.Stats().Seq)
	slow.pause()

	for range 10 {
		fillNoise(frame, frame.Rect, rnd, 128)
		p.Update(frame, []image.Rectangle{frame.Rect})
		fast.waitSeq(p.Stats().Seq)
	}
	// The peer's own count: the stream counts a FRAME only after Send returns.
	fast.mu.Lock()
	got := fast.frames
	fast.mu.Unlock()
	if got < 11 {
		t.Fatalf("fast peer received %d frames, want at least 11", got)
	}
	assertMatches(t, p.Snapshot(), fast, defaultTileSize)
	slow.mu.Lock()
	maxBuffered := slow.maxBuffered
	slow.mu.Unlock()
	if maxBuffered > highWater+wire.MaxMessage {
		t.Fatalf("stopped peer buffered %d bytes, high water %d", maxBuffered, highWater)
	}
	if st := streams[1].Stats(); st.Stalls == 0 {
		t.Fatalf("stopped peer never stalled: %+v", st)
	}

	slow.resume(streams[1])
	slow.waitSeq(p.Stats().Seq)
	assertMatches(t, p.Snapshot(), slow, defaultTileSize)
	if st := streams[1].Stats(); st.SkippedVersions == 0 {
		t.Fatalf("resumed peer skipped no stale version: %+v", st)
	}
}

func TestPipelineSkipsVersionsNoPeerNeeds(t *testing.T) {
	p := newTestPipeline(t, Config{HighWater: 8 << 10})
	peers, streams := addPeers(t, p, 1)
	rnd := rand.New(rand.NewPCG(5, 5))
	frame := image.NewRGBA(image.Rect(0, 0, 256, 256))
	fillNoise(frame, frame.Rect, rnd, 128)
	p.Update(frame, nil)
	peers[0].waitSeq(1)
	peers[0].pause()
	for range 10 {
		fillNoise(frame, frame.Rect, rnd, 128)
		p.Update(frame, []image.Rectangle{frame.Rect})
	}
	peers[0].resume(streams[0])
	peers[0].waitSeq(p.Stats().Seq)
	assertMatches(t, p.Snapshot(), peers[0], defaultTileSize)
	if st := p.Stats(); st.TileVersions != 176 || st.Encodes > st.TileVersions/2 {
		t.Fatalf("%d encodes for %d versions: versions no peer needed were encoded", st.Encodes, st.TileVersions)
	}
}

// assertFullFrameAfterSize checks that the peer's log, from its last SIZE, is SIZE, TILES
// covering the whole desktop of size r, then FRAME.
func assertFullFrameAfterSize(t *testing.T, f *fakePeer, r image.Rectangle) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	last := -1
	for i, m := range f.log {
		if m == wire.MsgSize {
			last = i
		}
	}
	if last < 0 || f.fb.Rect != r {
		t.Fatalf("log %v, framebuffer %v: want a SIZE of %v", f.log, f.fb.Rect, r)
	}
	tail := f.log[last+1:]
	if len(tail) < 2 || tail[len(tail)-1] != wire.MsgFrame {
		t.Fatalf("after SIZE: %v, want TILES then FRAME", tail)
	}
	for _, m := range tail[:len(tail)-1] {
		if m != wire.MsgTiles {
			t.Fatalf("after SIZE: %v, want TILES then FRAME", tail)
		}
	}
	covered := image.NewAlpha(r)
	for _, c := range f.coverage {
		draw.Draw(covered, c, image.Opaque, image.Point{}, draw.Src)
	}
	for i, a := range covered.Pix {
		if a == 0 {
			t.Fatalf("pixel %d,%d not covered by the tiles after SIZE", i%r.Dx(), i/r.Dx())
		}
	}
}

func TestPipelineLateJoinerAndResize(t *testing.T) {
	p := newTestPipeline(t, Config{TileSize: 32})
	if w, h := p.Size(); w != 0 || h != 0 || p.Snapshot() != nil {
		t.Fatalf("empty pipeline has size %dx%d", w, h)
	}
	early := newFakePeer(t)
	p.AddPeer(early, PeerOptions{})
	rnd := rand.New(rand.NewPCG(4, 4))
	frame := image.NewRGBA(image.Rect(0, 0, 130, 70))
	for range 5 {
		fillNoise(frame, frame.Rect, rnd, 20)
		p.Update(frame, []image.Rectangle{frame.Rect})
	}
	early.waitSeq(p.Stats().Seq)

	late := newFakePeer(t)
	p.AddPeer(late, PeerOptions{})
	late.waitSeq(p.Stats().Seq)
	assertFullFrameAfterSize(t, late, frame.Rect)
	assertMatches(t, p.Snapshot(), late, 32)

	big := image.NewRGBA(image.Rect(0, 0, 200, 150))
	fillNoise(big, big.Rect, rnd, 20)
	p.Update(big, nil) // a resize is a full change whatever the damage
	if w, h := p.Size(); w != 200 || h != 150 {
		t.Fatalf("size %dx%d after resize, want 200x150", w, h)
	}
	for _, f := range []*fakePeer{early, late} {
		f.waitSeq(p.Stats().Seq)
		assertFullFrameAfterSize(t, f, big.Rect)
		assertMatches(t, big, f, 32)
	}
}

func TestPipelineUpdateDetectsChanges(t *testing.T) {
	p := newTestPipeline(t, Config{})
	frame := image.NewRGBA(image.Rect(0, 0, 200, 100))
	p.Update(frame, nil)
	st := p.Stats()
	if st.Seq != 1 || st.TileVersions != 8 || st.Width != 200 || st.Height != 100 {
		t.Fatalf("after the first update: %+v", st)
	}
	p.Update(frame, []image.Rectangle{frame.Rect}) // same pixels
	frame.Pix[3] = 0                               // alpha only: a desktop is opaque
	p.Update(frame, []image.Rectangle{frame.Rect})
	if st := p.Stats(); st.Seq != 1 || st.TileVersions != 8 || st.Updates != 3 {
		t.Fatalf("unchanged pixels changed the pipeline: %+v", st)
	}
	frame.SetRGBA(150, 70, color.RGBA{R: 1, A: 0xff})
	p.Update(frame, []image.Rectangle{image.Rect(0, 0, 10, 10)}) // damage elsewhere: not seen
	if st := p.Stats(); st.Seq != 1 {
		t.Fatalf("undamaged change seen: %+v", st)
	}
	p.Update(frame, []image.Rectangle{image.Rect(150, 70, 151, 71), image.Rect(-5, -5, 500, 1)})
	if st := p.Stats(); st.Seq != 2 || st.TileVersions != 9 {
		t.Fatalf("one changed pixel: %+v, want seq 2 and one more version", st)
	}
	if got := p.Snapshot().RGBAAt(150, 70); got != (color.RGBA{R: 1, A: 0xff}) {
		t.Fatalf("snapshot pixel %v", got)
	}
}

func TestPipelineUpdateRejectsBadFrames(t *testing.T) {
	p := newTestPipeline(t, Config{})
	short := image.NewRGBA(image.Rect(0, 0, 10, 10))
	short.Pix = short.Pix[:100]
	bad := []*image.RGBA{
		nil,
		{},
		image.NewRGBA(image.Rect(0, 0, wire.MaxDimension+1, 1)),
		image.NewRGBA(image.Rect(5, 5, 20, 20)),
		short,
		{Pix: make([]byte, 400), Stride: 4, Rect: image.Rect(0, 0, 10, 10)},
	}
	for _, f := range bad {
		p.Update(f, []image.Rectangle{image.Rect(0, 0, 10, 10)})
	}
	if st := p.Stats(); st.Updates != 0 || st.Seq != 0 {
		t.Fatalf("bad frames accepted: %+v", st)
	}
}

// TestPipelineSendErrorEndsStream: a stream whose Send fails ends, tells OnEnd why and leaves
// the pipeline; the other stream carries on.
func TestPipelineSendErrorEndsStream(t *testing.T) {
	p := newTestPipeline(t, Config{})
	failing, ok := newFakePeer(t), newFakePeer(t)
	failing.failSends(errPeerGone)
	ended := make(chan error, 1)
	s := p.AddPeer(failing, PeerOptions{OnEnd: func(err error) { ended <- err }})
	p.AddPeer(ok, PeerOptions{OnEnd: func(err error) { t.Errorf("the healthy stream ended: %v", err) }})
	frame := image.NewRGBA(image.Rect(0, 0, 100, 100))
	for i := range 3 {
		fill(frame, frame.Rect, color.RGBA{R: uint8(i), A: 0xff})
		p.Update(frame, []image.Rectangle{frame.Rect})
	}
	select {
	case err := <-ended:
		if !errors.Is(err, errPeerGone) {
			t.Fatalf("OnEnd got %v, want the Send error", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("OnEnd was not called")
	}
	ok.waitSeq(p.Stats().Seq)
	if st := s.Stats(); st.Messages != 0 {
		t.Fatalf("failed stream sent %+v", st)
	}
	if n := p.Stats().Peers; n != 1 {
		t.Fatalf("%d streams in the pipeline, want only the healthy one", n)
	}
	s.Close() // still safe
}

func TestPipelineCloseStopsStreams(t *testing.T) {
	defer goleak.VerifyNone(t)
	p, err := New(Config{Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	peers, streams := addPeers(t, p, 3)
	frame := image.NewRGBA(image.Rect(0, 0, 100, 100))
	p.Update(frame, nil)
	for _, f := range peers {
		f.waitSeq(1)
	}
	peers[2].pause() // a stalled stream stops too
	fill(frame, frame.Rect, color.RGBA{G: 9, A: 0xff})
	p.Update(frame, []image.Rectangle{frame.Rect})

	streams[0].Close()
	streams[0].Close()
	if st := p.Stats(); st.Peers != 2 {
		t.Fatalf("%d peers after closing one of 3", st.Peers)
	}
	p.Close()
	p.Close()
	if st := p.Stats(); st.Peers != 0 {
		t.Fatalf("%d peers after Close", st.Peers)
	}
	late := p.AddPeer(newFakePeer(t), PeerOptions{})
	late.Wake()
	late.Close()
	streams[1].Close()
}

func TestPipelineServesDemoDesktop(t *testing.T) {
	d, err := demo.New(demo.Config{Width: 320, Height: 200, Still: true})
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPipeline(t, Config{})
	f := newFakePeer(t)
	p.AddPeer(f, PeerOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- d.Run(ctx, p.Update) }()
	defer func() {
		cancel()
		if err := <-ran; !errors.Is(err, context.Canceled) {
			t.Errorf("demo Run returned %v", err)
		}
	}()

	matches := func() bool {
		want := d.Snapshot()
		return f.fb != nil && f.fb.Rect == want.Rect && string(f.fb.Pix) == string(want.Pix)
	}
	f.waitFor("the demo desktop", matches)
	for _, in := range []wire.Input{
		{Type: wire.MsgPointer, X: 100, Y: 120, Buttons: wire.ButtonLeft},
		{Type: wire.MsgPointer, X: 160, Y: 130, Buttons: wire.ButtonLeft},
		{Type: wire.MsgKey, Keysym: 'h', Down: true},
		{Type: wire.MsgKey, Keysym: 'i', Down: true},
	} {
		if err := d.Input(in); err != nil {
			t.Fatalf("Input(%+v): %v", in, err)
		}
	}
	f.waitFor("the demo desktop after input", matches)
}

// cursorMessage returns a CURSOR message of a w×w shape (its PNG bytes need not decode here).
func cursorMessage(w int) []byte {
	return wire.EncodeCursor(wire.Cursor{W: w, H: w, PNG: []byte{byte(w)}})
}

// TestPipelineCursor: a peer gets the current cursor right after its SIZE and every change
// after; a change meeting a full transport waits for it to drain, and then only the newest
// shape goes.
func TestPipelineCursor(t *testing.T) {
	p := newTestPipeline(t, Config{HighWater: 1})
	p.SetCursor(cursorMessage(2))
	f := newFakePeer(t)
	s := p.AddPeer(f, PeerOptions{})
	frame := image.NewRGBA(image.Rect(0, 0, 64, 40))
	p.Update(frame, nil)
	f.waitSeq(1)
	f.mu.Lock()
	log := bytes.Clone(f.log)
	f.mu.Unlock()
	if len(log) < 2 || log[0] != wire.MsgSize || log[1] != wire.MsgCursor || bytes.Count(log, []byte{wire.MsgCursor}) != 1 {
		t.Fatalf("message types %v, want SIZE, CURSOR, then no other CURSOR", log)
	}
	p.SetCursor(cursorMessage(3))
	f.waitFor("the second cursor", func() bool { return f.cursorW == 3 })

	f.pause()
	fill(frame, frame.Rect, color.RGBA{R: 1, A: 0xff})
	p.Update(frame, []image.Rectangle{frame.Rect}) // the transport is now above high water
	f.waitFor("the change queued", func() bool { return len(f.queue) > 0 })
	for _, w := range []int{4, 5} {
		p.SetCursor(cursorMessage(w))
	}
	p.SetCursor(cursorMessage(5)) // the same shape again changes nothing
	f.resume(s)
	f.waitFor("the newest cursor", func() bool { return f.cursorW == 5 })
	f.waitSeq(p.Stats().Seq)
	f.mu.Lock()
	defer f.mu.Unlock()
	if n := bytes.Count(f.log, []byte{wire.MsgCursor}); n != 3 {
		t.Fatalf("message types %v: %d cursors, want 3 (the first, the second, then only the newest)", f.log, n)
	}
}

// TestPipelineDemand tells OnDemand when the first stream opens and the last one ends, by
// Close or by a failed Send, and nothing in between.
func TestPipelineDemand(t *testing.T) {
	told := make(chan bool, 8)
	p := newTestPipeline(t, Config{OnDemand: func(watched bool) { told <- watched }})
	expect := func(want bool) {
		t.Helper()
		select {
		case got := <-told:
			if got != want {
				t.Fatalf("OnDemand(%v), want OnDemand(%v)", got, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("OnDemand(%v) was not called", want)
		}
	}
	_, streams := addPeers(t, p, 2)
	expect(true)
	streams[0].Close()
	failing := newFakePeer(t)
	failing.failSends(errPeerGone)
	ended := make(chan struct{})
	p.AddPeer(failing, PeerOptions{OnEnd: func(error) { close(ended) }})
	streams[1].Close()
	frame := image.NewRGBA(image.Rect(0, 0, 64, 64))
	p.Update(frame, nil)
	select {
	case <-ended:
	case <-time.After(waitTimeout):
		t.Fatal("the failing stream did not end")
	}
	expect(false)
	addPeers(t, p, 1)
	expect(true)
	p.Close()
	expect(false)
	if len(told) > 0 {
		t.Fatalf("OnDemand(%v) more than once per change", <-told)
	}
}

// TestPipelineRefresh: a peer that asks for the whole desktop again gets a SIZE, every tile
// and a FRAME, though it held everything already; the other peer gets nothing more.
func TestPipelineRefresh(t *testing.T) {
	p := newTestPipeline(t, Config{TileSize: 32})
	a, b := newFakePeer(t), newFakePeer(t)
	sa := p.AddPeer(a, PeerOptions{})
	p.AddPeer(b, PeerOptions{})
	rnd := rand.New(rand.NewPCG(5, 5))
	frame := image.NewRGBA(image.Rect(0, 0, 130, 70))
	fillNoise(frame, frame.Rect, rnd, 20)
	p.Update(frame, []image.Rectangle{frame.Rect})
	seq := p.Stats().Seq
	a.waitSeq(seq)
	b.waitSeq(seq)
	bMessages := func() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.log) }
	before := bMessages()

	sa.Refresh()
	a.waitFor("a second SIZE", func() bool { return a.sizes == 2 && a.frames >= 2 })
	assertFullFrameAfterSize(t, a, frame.Rect)
	assertMatches(t, frame, a, 32)
	if n := bMessages(); n != before {
		t.Fatalf("the other peer got %d more messages after a refresh it did not ask for", n-before)
	}
}

// TestPipelineRefreshWaitsForFrame: a refresh asked for while the peer has not yet been sent the
// FRAME of its whole desktop is ignored, so a slow link always gets whole desktops.
func TestPipelineRefreshWaitsForFrame(t *testing.T) {
	p := newTestPipeline(t, Config{TileSize: 32})
	a := newFakePeer(t)
	a.pause()
	s := p.AddPeer(a, PeerOptions{})
	rnd := rand.New(rand.NewPCG(6, 6))
	frame := image.NewRGBA(image.Rect(0, 0, 1280, 960))
	fillNoise(frame, frame.Rect, rnd, 255) // far more than the first high-water mark
	p.Update(frame, []image.Rectangle{frame.Rect})
	a.waitFor("a message", func() bool { return a.buffered > 0 })
	deadline := time.Now().Add(waitTimeout)
	for s.Stats().Stalls == 0 { // the stream stopped at high water, the desktop's FRAME unsent
		if time.Now().After(deadline) {
			t.Fatal("the stream never stopped at high water")
		}
		time.Sleep(time.Millisecond)
	}
	s.Refresh()
	a.resume(s)
	a.waitSeq(p.Stats().Seq)
	a.mu.Lock()
	sizes := a.sizes
	a.mu.Unlock()
	if sizes != 1 {
		t.Fatalf("%d SIZE messages: a refresh before the first FRAME was not ignored", sizes)
	}
	s.Refresh()
	a.waitFor("the refresh", func() bool { return a.sizes == 2 && a.frames >= 2 })
	assertMatches(t, frame, a, 32)
}
