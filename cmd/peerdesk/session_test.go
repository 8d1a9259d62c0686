package main

import (
	"context"
	"fmt"
	"image"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// TestPeersMatchHost: several Go peers see the host's exact pixels, input from one of them
// changes the host desktop, and every peer converges to the change.
func TestPeersMatchHost(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const n = 3
	peers := make([]*client.Session, n)
	for i := range peers {
		peers[i] = h.join(ctx)
	}
	for _, p := range peers {
		waitHost(ctx, t, p, h.desk)
	}
	before := h.desk.Snapshot()

	// A click and typed text from the first peer reach the host desktop.
	p := peers[0]
	if err := p.Pointer(100, 120, wire.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	if err := p.Pointer(100, 120, 0); err != nil {
		t.Fatal(err)
	}
	for _, k := range "Hi" {
		if err := p.Key(uint32(k), true); err != nil {
			t.Fatal(err)
		}
		if err := p.Key(uint32(k), false); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for h.agent.Stats().InputApplied < 6 {
		if time.Now().After(deadline) {
			t.Fatalf("host applied %d of 6 input events", h.agent.Stats().InputApplied)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if diffPixels(before, h.desk.Snapshot()) == 0 {
		t.Fatal("input did not change the host desktop")
	}
	for _, p := range peers {
		waitHost(ctx, t, p, h.desk)
	}

	// Each tile version is encoded at most once, whatever the number of peers.
	st := h.agent.Stats().Pipeline
	if st.Encodes == 0 || st.Encodes > st.TileVersions {
		t.Fatalf("encodes %d for %d tile versions with %d peers", st.Encodes, st.TileVersions, n)
	}
}

// TestSlowPeerDoesNotStallOthers: a peer that stops reading holds bounded memory (its stream
// is held: it stalls on its transport, or waits for the peer to apply what it holds; the
// reading one may stall too, as flow control follows its rate), the other peer keeps receiving
// frames, and the stopped one converges to the current frame when it reads again, without a
// decode error. Once with the desktop's busy band as tiles, once as video.
func TestSlowPeerDoesNotStallOthers(t *testing.T) {
	for _, mode := range []struct {
		name string
		opt  client.Option
	}{{"tiles", client.WithoutVideo()}, {"video", nil}} {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t, harnessConfig{demo: demo.Config{Width: 640, Height: 480, FPS: 60, Busy: 60}})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			slow, fast := h.join(ctx, mode.opt), h.join(ctx, mode.opt)
			slow.Freeze()
			start := fast.Frames()
			held := func() bool { // the frozen peer's stream stopped sending
				for _, ps := range h.agent.Pipeline().PeerStats() {
					if ps.Stalls > 0 || ps.Behind > 0 {
						return true
					}
				}
				return false
			}
			for n := start + 60; n == start+60 || !held(); n += 30 {
				if err := fast.WaitFrames(ctx, n); err != nil {
					t.Fatalf("the reading peer stalled at %d frames (the frozen one held: %v): %v", fast.Frames(), held(), err)
				}
			}
			const most = 1 << 20 // the pipeline's default HighWater: no peer's high-water mark is above it
			for _, ps := range h.agent.Pipeline().PeerStats() {
				if ps.Buffered > most+wire.MaxMessage {
					t.Fatalf("a peer's transport holds %d bytes, above the most any high-water mark allows (%d)", ps.Buffered, most)
				}
			}
			slow.Resume()
			if err := slow.WaitFrames(ctx, slow.Frames()+10); err != nil {
				t.Fatalf("the resumed peer got no new frames: %v", err)
			}
			if mode.opt == nil {
				if v := slow.Stats().VideoFrames; v == 0 {
					t.Error("the resumed peer decoded no video frame")
				}
				if err := slow.WaitFrames(ctx, slow.Frames()+10); err != nil { // past a keyframe, if it had to wait for one
					t.Fatal(err)
				}
			}
			for name, s := range map[string]*client.Session{"frozen": slow, "reading": fast} {
				if n := s.Stats().DecodeErrors; n > 0 {
					t.Errorf("the %s peer had %d decode errors", name, n)
				}
			}
		})
	}
}

// TestResumedPeerConvergesExactly: after a stall during heavy input, a peer resumes with no
// stale pixels.
func TestResumedPeerConvergesExactly(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true, Width: 640, Height: 480}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	slow, active := h.join(ctx), h.join(ctx)
	waitHost(ctx, t, slow, h.desk)
	slow.Freeze()
	// Draw a long stroke across the desktop from the other peer.
	for i := range 200 {
		x, y := 10+(i*3)%620, 10+(i*7)%460
		if err := active.Pointer(x, y, wire.ButtonLeft); err != nil {
			t.Fatal(err)
		}
	}
	if err := active.Pointer(5, 5, 0); err != nil {
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 201)
	waitHost(ctx, t, active, h.desk)
	slow.Resume()
	waitHost(ctx, t, slow, h.desk)
}

func waitApplied(ctx context.Context, t testing.TB, h *harness, n uint64) {
	t.Helper()
	for h.agent.Stats().InputApplied < n {
		select {
		case <-ctx.Done():
			t.Fatalf("host applied %d of %d input events", h.agent.Stats().InputApplied, n)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestBadInputOnDataChannels: garbage and out-of-range input get a control error to that
// sender only; the host stays unchanged and the other peer's session carries on.
func TestBadInputOnDataChannels(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bad, good := h.join(ctx), h.join(ctx)
	waitHost(ctx, t, good, h.desk)
	before := h.desk.Snapshot()

	cases := [][]byte{
		{},                                    // empty
		{0x7f, 1, 2, 3},                       // unknown type
		{wire.MsgPointer, 0, 1},               // truncated
		wire.EncodePointer(5000, 10, 1),       // x outside the desktop
		wire.EncodePointer(10, 65535, 1),      // y outside the desktop
		append(wire.EncodeKey(0x61, true), 0), // trailing byte
	}
	for i, b := range cases {
		if err := bad.SendRawInput(b); err != nil {
			t.Fatalf("case %d: send: %v", i, err)
		}
	}
	if err := bad.SendRawControl([]byte("{not json")); err != nil {
		t.Fatal(err)
	}
	// At least one error reaches the bad peer, with the bad-input code.
	gotErr := false
	for !gotErr {
		select {
		case ev := <-bad.Events():
			if ev.Type == wire.ControlError && (ev.Code == "bad-input" || ev.Code == proto.CodeBadMessage) {
				gotErr = true
			}
		case <-ctx.Done():
			t.Fatal("no error reached the peer that sent bad input")
		}
	}
	for h.agent.Stats().InputRejected < uint64(len(cases)-1) {
		select {
		case <-ctx.Done():
			t.Fatalf("agent rejected %d of %d bad messages", h.agent.Stats().InputRejected, len(cases))
		case <-time.After(5 * time.Millisecond):
		}
	}
	if d := diffPixels(before, h.desk.Snapshot()); d != 0 {
		t.Fatalf("bad input changed %d host pixels", d)
	}
	// Both sessions still work: a click from the bad peer's neighbour lands everywhere.
	if err := good.Pointer(50, 50, wire.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 1)
	waitHost(ctx, t, good, h.desk)
	waitHost(ctx, t, bad, h.desk)
}

// TestBadSignaling: a raw WebSocket peer sends malformed frames and a bad SDP; it gets errors
// and a Go peer on the same connection is untouched.
func TestBadSignaling(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good := h.join(ctx)

	cookie := h.login(ctx)
	hdr := http.Header{"Cookie": {"peerdesk_session=" + cookie}}
	u := strings.Replace(h.url, "http", "ws", 1) + fmt.Sprintf("/ws/peer?connection=%d", h.connID)
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, u, hdr)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	expect := func(code string) {
		t.Helper()
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				t.Fatalf("waiting for error %s: %v", code, err)
			}
			m, err := proto.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if m.Type == proto.TypeError {
				if m.Code != code {
					t.Fatalf("error code %q (%s), want %q", m.Code, m.Message, code)
				}
				return
			}
		}
	}
	for _, c := range []struct{ frame, code string }{
		{`{not json`, proto.CodeBadMessage},
		{`{"type":"dance"}`, proto.CodeUnknownType},
		{`{"type":"offer"}`, proto.CodeBadMessage},
		{`{"type":"offer","sdp":"v=0 garbage"}`, proto.CodeBadSDP},
	} {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(c.frame)); err != nil {
			t.Fatal(err)
		}
		expect(c.code)
	}
	// The other peer still gets fresh pixels.
	if err := good.Key('x', true); err != nil {
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 1)
	waitHost(ctx, t, good, h.desk)
}

// TestConcurrentJoins: peers joining and leaving at once all reach the host's frame.
func TestConcurrentJoins(t *testing.T) {
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cookie, err := client.Login(ctx, h.url, testAdmin, testPassword)
			if err != nil {
				errs <- err
				return
			}
			s, err := client.Join(ctx, h.url, h.connID, cookie, client.WithSettingEngine(*loopbackEngine()))
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.WaitFor(ctx, func(img *image.RGBA) bool { return diffPixels(img, h.desk.Snapshot()) == 0 })
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
