package client

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

func TestJoinDrawsTiles(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	f := newFakeServer(t, true)
	joined := joinAsync(ctx, t, f)
	h := f.nextHost(ctx)

	welcome := wire.Control{Type: wire.ControlWelcome, Peer: "p1", Identity: &wire.Identity{Name: "alice", Role: "owner"}, Width: 64, Height: 48}
	h.sendControl(welcome)
	m := &model{w: 64, h: 48, tiles: []modelTile{
		{0, 0, 16, 16, solid(color.RGBA{R: 255, A: 255})},
		{20, 8, 30, 17, pattern},
		{10, 10, 16, 16, pattern}, // overlaps the first: order matters
	}}
	var ts []wire.Tile
	for _, mt := range m.tiles {
		ts = append(ts, pngTile(t, mt.x, mt.y, mt.w, mt.h, mt.paint))
	}
	h.sendDisplay(wire.EncodeSize(64, 48), tilesMsg(ts[0], ts[1]), tilesMsg(ts[2]), wire.EncodeFrame(1))
	s := awaitJoin(ctx, t, joined)

	if w, hh := s.Size(); w != 64 || hh != 48 {
		t.Errorf("Size() = %dx%d, want 64x48", w, hh)
	}
	checkImage(t, s.Image(), m)
	st := s.Stats()
	if st.Frames != 1 || st.LastSeq != 1 || st.Messages != 4 || st.DecodeErrors != 0 {
		t.Errorf("Stats() = %+v, want 1 frame (seq 1), 4 messages, no errors", st)
	}
	wantBytes := uint64(5 + len(tilesMsg(ts[0], ts[1])) + len(tilesMsg(ts[2])) + 5)
	if st.Bytes != wantBytes {
		t.Errorf("Stats().Bytes = %d, want %d", st.Bytes, wantBytes)
	}
	select {
	case ev := <-s.Events():
		if ev.Type != wire.ControlWelcome || ev.Peer != "p1" || ev.Identity == nil || ev.Identity.Name != "alice" || ev.Width != 64 {
			t.Errorf("first event %+v, want the welcome", ev)
		}
	case <-ctx.Done():
		t.Fatal("no welcome event")
	}
	if got := s.Welcome(); got.Peer != "p1" || got.Height != 48 {
		t.Errorf("Welcome() = %+v", got)
	}

	// Image() is a copy: changing it changes nothing in the session.
	img := s.Image()
	img.SetRGBA(0, 0, color.RGBA{G: 255, A: 255})
	if got := s.Image().RGBAAt(0, 0); got != (color.RGBA{R: 255, A: 255}) {
		t.Errorf("framebuffer changed through a copy: %v", got)
	}

	// A JPEG tile is drawn too (lossy: compare loosely), and WaitFor sees it.
	var jb bytes.Buffer
	jimg := image.NewRGBA(image.Rect(0, 0, 16, 8))
	for i := range jimg.Pix {
		jimg.Pix[i] = []byte{0, 200, 0, 255}[i%4]
	}
	if err := jpeg.Encode(&jb, jimg, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	h.sendDisplay(tilesMsg(wire.Tile{X: 40, Y: 30, W: 16, H: 8, Format: wire.FormatJPEG, Data: jb.Bytes()}), wire.EncodeFrame(2))
	near := func(a, b uint8) bool { return max(a, b)-min(a, b) < 12 }
	err := s.WaitFor(ctx, func(img *image.RGBA) bool {
		c := img.RGBAAt(47, 33)
		return near(c.R, 0) && near(c.G, 200) && near(c.B, 0)
	})
	if err != nil {
		t.Fatalf("WaitFor the JPEG tile: %v", err)
	}
	if err := s.WaitFrames(ctx, 2); err != nil { // WaitFor may have seen the tile before its FRAME
		t.Fatal(err)
	}
	if n := s.Frames(); n != 2 {
		t.Errorf("Frames() = %d, want 2", n)
	}
}

func TestInputReachesHost(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	h, s := joinDisplayed(ctx, t, 100, 100)

	steps := []struct {
		send func() error
		want []byte
	}{
		{func() error { return s.Pointer(10, 20, wire.ButtonLeft|wire.ButtonRight) }, []byte{0x01, 0, 10, 0, 20, 0x05}},
		{func() error { return s.Wheel(1, 2, -3, 4) }, []byte{0x02, 0, 1, 0, 2, 0xff, 0xfd, 0, 4}},
		{func() error { return s.Key(0xff0d, true) }, []byte{0x03, 1, 0, 0, 0xff, 0x0d}},
		{func() error { return s.Key(0x61, false) }, []byte{0x03, 0, 0, 0, 0, 0x61}},
		{func() error { return s.SendRawInput([]byte{0x09, 0xde, 0xad}) }, []byte{0x09, 0xde, 0xad}},
	}
	for i, st := range steps {
		if err := st.send(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := recv(ctx, t, h.inputMsgs); !bytes.Equal(got, st.want) {
			t.Errorf("step %d: host got % x, want % x", i, got, st.want)
		}
	}
	raw := []byte(`{"type":"bogus"}`)
	if err := s.SendRawControl(raw); err != nil {
		t.Fatal(err)
	}
	if got := recv(ctx, t, h.controlMsgs); !bytes.Equal(got, raw) {
		t.Errorf("host control got %q, want %q", got, raw)
	}

	for _, bad := range []func() error{
		func() error { return s.Pointer(-1, 0, 0) },
		func() error { return s.Pointer(0, 70000, 0) },
		func() error { return s.Pointer(0, 0, 0x08) },
		func() error { return s.Wheel(0, 0, 40000, 0) },
	} {
		if err := bad(); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("bad input: err %v, want ErrInvalidArgument", err)
		}
	}
	// The relay's errors arrive as events.
	h.sendControl(wire.Control{Type: wire.ControlError, Code: "bad-input", Message: "nope"})
	select {
	case ev := <-s.Events():
		if ev.Type != wire.ControlError || ev.Code != "bad-input" {
			t.Errorf("event %+v, want the bad-input error", ev)
		}
	case <-ctx.Done():
		t.Fatal("no error event")
	}
}

func TestHostComesBack(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	f := newFakeServer(t, true)
	joined := joinAsync(ctx, t, f)
	fc := f.nextConn(ctx)
	h1 := f.nextHost(ctx)
	m := &model{w: 32, h: 32, tiles: []modelTile{{0, 0, 32, 16, pattern}}}
	h1.sendDisplay(wire.EncodeSize(32, 32), tilesMsg(pngTile(t, 0, 0, 32, 16, pattern)), wire.EncodeFrame(1))
	s := awaitJoin(ctx, t, joined)
	h1.sendControl(wire.Control{Type: wire.ControlLink, State: wire.LinkLimited, Rate: 1000})
	for !s.Stats().LinkLimited {
		select {
		case <-s.Events():
		case <-ctx.Done():
			t.Fatal("no link message")
		}
	}

	fc.send(proto.Message{Type: proto.TypeState, State: proto.StateHostUnavailable})
	select {
	case <-h1.closed:
	case <-ctx.Done():
		t.Fatal("the client kept its peer connection after host-unavailable")
	}
	if st := s.Stats(); st.LinkLimited || st.LinkRate != 0 {
		t.Errorf("link stats %+v once the peer connection is gone, want a link that keeps up", st)
	}
	if err := s.Key(1, true); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Key while the host is away: %v, want ErrNotConnected", err)
	}
	checkImage(t, s.Image(), m) // kept until a new SIZE

	fc.send(proto.Message{Type: proto.TypeState, State: proto.StateHostAvailable})
	h2 := f.nextHost(ctx)
	blue := solid(color.RGBA{B: 255, A: 255})
	m.tiles = append(m.tiles, modelTile{8, 20, 8, 8, blue})
	h2.sendDisplay(tilesMsg(pngTile(t, 8, 20, 8, 8, blue)), wire.EncodeFrame(2))
	if err := s.WaitFrames(ctx, 2); err != nil {
		t.Fatal(err)
	}
	checkImage(t, s.Image(), m)
	if err := s.Pointer(1, 1, 0); err != nil {
		t.Fatal(err)
	}
	if got := recv(ctx, t, h2.inputMsgs); !bytes.Equal(got, wire.EncodePointer(1, 1, 0)) {
		t.Errorf("new host got % x", got)
	}
	// A new SIZE clears the framebuffer.
	h2.sendDisplay(wire.EncodeSize(16, 8), wire.EncodeFrame(3))
	if err := s.WaitFrames(ctx, 3); err != nil {
		t.Fatal(err)
	}
	checkImage(t, s.Image(), &model{w: 16, h: 8})
}

func TestMalformedDisplayIsCounted(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	f := newFakeServer(t, true)
	joined := joinAsync(ctx, t, f)
	h := f.nextHost(ctx)
	red := solid(color.RGBA{R: 255, A: 255})
	h.sendDisplay(wire.EncodeFrame(0)) // FRAME before SIZE: refused, Join keeps waiting
	h.sendDisplay(wire.EncodeSize(32, 32), wire.EncodeFrame(1))
	s := awaitJoin(ctx, t, joined)

	bad := [][]byte{
		{0x7f, 1, 2},
		{wire.MsgSize, 0, 0, 0, 1},                // 0 wide
		tilesMsg(pngTile(t, 20, 20, 16, 16, red)), // outside 32x32
		tilesMsg(wire.Tile{W: 4, H: 4, Format: wire.FormatPNG, Data: []byte("not a png")}),
		tilesMsg(wire.Tile{W: 8, H: 8, Format: wire.FormatPNG, Data: pngTile(t, 0, 0, 4, 4, red).Data}), // wrong size
		tilesMsg(pngTile(t, 0, 0, 4, 4, red), wire.Tile{W: 2, H: 2, Format: wire.FormatJPEG, Data: []byte{0xff}}),
	}
	h.sendDisplay(bad...)
	h.sendDisplay(tilesMsg(pngTile(t, 4, 4, 4, 4, red)), wire.EncodeFrame(2))
	if err := s.WaitFrames(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// The half-bad TILES message drew nothing: the session applies messages whole.
	checkImage(t, s.Image(), &model{w: 32, h: 32, tiles: []modelTile{{4, 4, 4, 4, red}}})
	if st := s.Stats(); st.DecodeErrors != uint64(len(bad))+1 || st.Frames != 2 {
		t.Errorf("Stats() = %+v, want %d decode errors and 2 frames", st, len(bad)+1)
	}
}

func TestFreezeBacksUpTheRelay(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	h, s := joinDisplayed(ctx, t, 8, 8)

	s.Freeze()
	s.Freeze() // idempotent
	base := s.Stats().Messages
	const n, size = 40, 60000 // 2.4 MB: more than pion's 1 MiB receive buffer can hide
	const low = 1 << 20
	drained := make(chan struct{}, 1)
	h.display.SetBufferedAmountLowThreshold(low)
	h.display.OnBufferedAmountLow(func() {
		select {
		case drained <- struct{}{}:
		default:
		}
	})
	junk := bytes.Repeat([]byte{0x7f}, size) // an unknown type: counted, cheap to reject
	for i := 0; i < n; i++ {
		h.sendDisplay(junk)
	}
	h.sendDisplay(wire.EncodeFrame(2))
	if b := h.display.BufferedAmount(); b <= low {
		t.Fatalf("host buffered %d bytes, want more than %d", b, low)
	}
	// Nothing can be awaited here: the point is that nothing happens for a while.
	select {
	case <-drained:
		t.Fatal("the relay's backlog drained while the client was frozen")
	case <-time.After(300 * time.Millisecond):
	}
	if got := s.Stats().Messages; got > base+1 {
		t.Errorf("read %d display messages while frozen, want at most 1", got-base)
	}
	s.Resume()
	s.Resume()
	select {
	case <-drained:
	case <-ctx.Done():
		t.Fatal("backlog never drained after Resume")
	}
	if err := s.WaitFrames(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Messages != base+n+1 || st.DecodeErrors != n {
		t.Errorf("Stats() = %+v, want %d messages and %d errors", st, base+n+1, n)
	}
}

func TestEndedSession(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	fc, _, s := joinDisplayedOn(ctx, t, newFakeServer(t, true), 8, 8)

	fc.send(proto.Message{Type: proto.TypeError, Code: proto.CodeBadMessage, Message: "hm"})
	fc.send(proto.Message{Type: proto.TypeState, State: proto.StateEnded, Message: "killed by an admin"})
	if err := s.WaitFrames(ctx, 2); !errors.Is(err, ErrEnded) {
		t.Fatalf("WaitFrames after the end: %v, want ErrEnded", err)
	}
	<-s.Done()
	if !errors.Is(s.Err(), ErrEnded) {
		t.Errorf("Err() = %v, want ErrEnded", s.Err())
	}
	if ev := <-s.Events(); ev.Type != wire.ControlError || ev.Code != proto.CodeBadMessage {
		t.Errorf("event %+v, want the signaling error", ev)
	}
	if err := s.Key(1, true); !errors.Is(err, ErrEnded) {
		t.Errorf("Key after the end: %v, want ErrEnded", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(s.Err(), ErrEnded) {
		t.Errorf("Err() after Close = %v, want still ErrEnded", s.Err())
	}
}

func TestCloseWhileFrozen(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	h, s := joinDisplayed(ctx, t, 8, 8)
	s.Freeze()
	h.sendDisplay(wire.EncodeFrame(2), wire.EncodeFrame(3))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(s.Err(), ErrClosed) {
		t.Errorf("Err() = %v, want ErrClosed", s.Err())
	}
	if err := s.WaitFrames(ctx, 10); !errors.Is(err, ErrClosed) {
		t.Errorf("WaitFrames after Close: %v, want ErrClosed", err)
	}
	if err := s.Pointer(0, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Pointer after Close: %v, want ErrClosed", err)
	}
}

func TestJoinFailures(t *testing.T) {
	checkLeaks(t)
	f := newFakeServer(t, false) // the host never comes
	opts := clientOptions(t)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Join(ctx, f.srv.URL, testConnection, testCookie, opts...); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Join without a host: %v, want DeadlineExceeded", err)
	}

	ctx = testContext(t)
	cases := []struct {
		name, url, cookie string
		conn              int64
		want              error
	}{
		{"wrong cookie", f.srv.URL, "other", testConnection, ErrLogin},
		{"unknown connection", f.srv.URL, testCookie, 8, ErrHTTP},
		{"cookie with a separator", f.srv.URL, "a; admin=1", testConnection, ErrInvalidArgument},
		{"empty cookie", f.srv.URL, "", testConnection, ErrInvalidArgument},
		{"not http", "ftp://x", testCookie, testConnection, ErrInvalidArgument},
		{"no host", "http://", testCookie, testConnection, ErrInvalidArgument},
	}
	for _, c := range cases {
		if _, err := Join(ctx, c.url, c.conn, c.cookie, opts...); !errors.Is(err, c.want) {
			t.Errorf("%s: Join: %v, want %v", c.name, err, c.want)
		}
	}

	f.hello.Store(false)
	f.avail.Store(true)
	if _, err := Join(ctx, f.srv.URL, testConnection, testCookie, opts...); !errors.Is(err, ErrProtocol) {
		t.Errorf("Join without hello: %v, want ErrProtocol", err)
	}
}

// TestInputReadyWithFirstFrame is a regression test: the three channels open in any order, and
// a FRAME read before the input channel was attached let WaitFrames return while Pointer still
// failed with ErrNotConnected. Every new peer connection must be usable for input as soon as a
// frame arrived on it.
func TestInputReadyWithFirstFrame(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	f := newFakeServer(t, true)
	fc, h, s := joinDisplayedOn(ctx, t, f, 8, 8)
	for round := uint64(1); round <= 6; round++ {
		if err := s.Pointer(1, 1, 0); err != nil {
			t.Fatalf("round %d: Pointer right after a frame: %v", round, err)
		}
		if got := recv(ctx, t, h.inputMsgs); !bytes.Equal(got, wire.EncodePointer(1, 1, 0)) {
			t.Fatalf("round %d: host got % x", round, got)
		}
		fc.send(proto.Message{Type: proto.TypeState, State: proto.StateHostAvailable}) // a new peer connection
		h = f.nextHost(ctx)
		h.sendDisplay(wire.EncodeFrame(uint32(round + 1)))
		if err := s.WaitFrames(ctx, round+1); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRenegotiateRequest: an error with code renegotiate (the agent dropped the peer
// connection) makes the client close its peer connection and offer a new one.
func TestRenegotiateRequest(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	f := newFakeServer(t, true)
	fc, h1, s := joinDisplayedOn(ctx, t, f, 8, 8)
	fc.send(proto.Message{Type: proto.TypeError, Code: proto.CodeRenegotiate, Message: "the display stream ended"})
	select {
	case <-h1.closed:
	case <-ctx.Done():
		t.Fatal("the client kept its peer connection")
	}
	h2 := f.nextHost(ctx)
	h2.sendDisplay(wire.EncodeSize(8, 8), wire.EncodeFrame(2))
	if err := s.WaitFrames(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if n := s.Stats().PeerConnections; n != 2 {
		t.Fatalf("%d peer connections, want 2", n)
	}
}

// TestJoinTriesNodes: a server that does not answer, or answers 5xx, makes Join try the nodes
// of WithNodes in turn; one that refuses the join (404) does not.
func TestJoinTriesNodes(t *testing.T) {
	checkLeaks(t)
	ctx := testContext(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	var hits atomic.Int32
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		http.Error(w, `{"error":"node draining"}`, http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	f := newFakeServer(t, true)

	joined := make(chan *Session, 1)
	go func() {
		s, err := Join(ctx, gone.URL, testConnection, testCookie, append(clientOptions(t), WithNodes(gone.URL, failing.URL, f.srv.URL))...)
		if err != nil {
			t.Errorf("Join over the nodes: %v", err)
		} else {
			t.Cleanup(func() { _ = s.Close() })
		}
		joined <- s
	}()
	f.nextConn(ctx)
	f.nextHost(ctx).sendDisplay(wire.EncodeSize(8, 8), wire.EncodeFrame(1))
	awaitJoin(ctx, t, joined)
	if hits.Load() != 1 {
		t.Errorf("the failing node was tried %d times, want once", hits.Load())
	}

	if _, err := Join(ctx, f.srv.URL, 8, testCookie, append(clientOptions(t), WithNodes(failing.URL))...); !errors.Is(err, ErrHTTP) {
		t.Errorf("Join of an unknown connection: %v, want ErrHTTP", err)
	}
	if hits.Load() != 1 {
		t.Error("a refused join tried the other nodes")
	}
}
