package client

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"peerdesk/internal/rtcconf"
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// The test harness stands in for the signaling server and the relay agent together: an
// httptest server speaking the peer side of /ws/peer that answers every offer with a real pion
// peer connection over loopback. It is a test harness only, not a second implementation.

const (
	testCookie     = "c00kie-value"
	testConnection = 7
	testTimeout    = 20 * time.Second
)

// checkLeaks fails the test if goroutines outlive it; register it first so that it runs
// after every other cleanup.
func checkLeaks(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel).With().Timestamp().Logger()
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// loopbackEngine keeps pion on 127.0.0.1 (FIELD-NOTES.md).
func loopbackEngine() webrtc.SettingEngine { return *rtcconf.Loopback() }

func clientOptions(t *testing.T) []Option {
	return []Option{WithLogger(testLogger(t)), WithSettingEngine(loopbackEngine())}
}

// fakeServer serves /ws/peer for one connection id and cookie.
type fakeServer struct {
	t     *testing.T
	srv   *httptest.Server
	hello atomic.Bool // send hello first (false tests a protocol violation)
	avail atomic.Bool // send host-available right after hello
	conns chan *fakeConn
	hosts chan *fakeHost // every answered offer
	wg    sync.WaitGroup

	mu  sync.Mutex
	all []*fakeHost // closed with the server
}

func newFakeServer(t *testing.T, avail bool) *fakeServer {
	f := &fakeServer{t: t, conns: make(chan *fakeConn, 4), hosts: make(chan *fakeHost, 8)}
	f.hello.Store(true)
	f.avail.Store(avail)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.close)
	return f
}

// close runs after the client's Close (cleanups run last-in first-out), so serve's
// WebSocket reads have ended or are about to.
func (f *fakeServer) close() {
	f.srv.Close()
	f.wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.all {
		_ = h.pc.Close()
	}
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ws/peer" || r.URL.Query().Get("connection") != "7" {
		http.NotFound(w, r)
		return
	}
	if c, err := r.Cookie(cookieName); err != nil || c.Value != testCookie {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":"not logged in"}`))
		return
	}
	if r.Header.Get("Origin") != "" {
		http.Error(w, "origin", http.StatusForbidden)
		return
	}
	ws, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.wg.Add(1)
	defer f.wg.Done()
	fc := &fakeConn{ws: ws}
	defer ws.Close()
	f.conns <- fc
	if f.hello.Load() {
		fc.send(proto.Message{Type: proto.TypeHello, Identity: &proto.Identity{Name: "alice", Role: proto.RoleOwner}})
	}
	if f.avail.Load() {
		fc.send(proto.Message{Type: proto.TypeState, State: proto.StateHostAvailable})
	}
	var host *fakeHost
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return
		}
		m, err := proto.Decode(b)
		if err != nil {
			f.t.Errorf("client sent a bad frame %q: %v", b, err)
			return
		}
		switch m.Type {
		case proto.TypeOffer:
			host = newFakeHost(f.t, fc, m.SDP)
			f.mu.Lock()
			f.all = append(f.all, host)
			f.mu.Unlock()
			f.hosts <- host
		case proto.TypeCandidate:
			if host == nil {
				f.t.Errorf("candidate before any offer")
				return
			}
			host.addCandidate(*m.Candidate)
		default:
			f.t.Errorf("unexpected message from the client: %s", b)
		}
	}
}

// nextConn returns the next accepted WebSocket.
func (f *fakeServer) nextConn(ctx context.Context) *fakeConn {
	f.t.Helper()
	select {
	case c := <-f.conns:
		return c
	case <-ctx.Done():
		f.t.Fatal("no WebSocket connection")
		return nil
	}
}

// nextHost returns the host that answered the next offer, once its channels are open.
func (f *fakeServer) nextHost(ctx context.Context) *fakeHost {
	f.t.Helper()
	select {
	case h := <-f.hosts:
		select {
		case <-h.open:
			return h
		case <-ctx.Done():
			f.t.Fatal("host channels never opened")
		}
	case <-ctx.Done():
		f.t.Fatal("no offer answered")
	}
	return nil
}

// fakeConn is one peer WebSocket on the server side.
type fakeConn struct {
	mu sync.Mutex
	ws *websocket.Conn
}

func (c *fakeConn) send(m proto.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.ws.WriteMessage(websocket.TextMessage, m.Encode())
}

// fakeHost is the relay agent's side of one peer connection.
type fakeHost struct {
	t                       *testing.T
	pc                      *webrtc.PeerConnection
	control, display, input *webrtc.DataChannel
	open                    chan struct{} // all three channels open
	closed                  chan struct{} // the client closed the connection
	inputMsgs, controlMsgs  chan []byte
}

func newFakeHost(t *testing.T, fc *fakeConn, offer string) *fakeHost {
	api := webrtc.NewAPI(webrtc.WithSettingEngine(loopbackEngine()))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatalf("host peer connection: %v", err)
	}
	h := &fakeHost{
		t: t, pc: pc,
		open:        make(chan struct{}),
		closed:      make(chan struct{}),
		inputMsgs:   make(chan []byte, 16),
		controlMsgs: make(chan []byte, 16),
	}
	var opened atomic.Int32
	mk := func(label string, id uint16, msgs chan []byte) *webrtc.DataChannel {
		negotiated := true
		dc, err := pc.CreateDataChannel(label, &webrtc.DataChannelInit{Negotiated: &negotiated, ID: &id})
		if err != nil {
			t.Fatalf("host channel: %v", err)
		}
		dc.OnOpen(func() {
			if opened.Add(1) == 3 {
				close(h.open)
			}
		})
		if msgs != nil {
			dc.OnMessage(func(m webrtc.DataChannelMessage) {
				select {
				case msgs <- m.Data:
				default:
					t.Errorf("%s message dropped by the test host", label)
				}
			})
		}
		return dc
	}
	h.control = mk(wire.ControlLabel, wire.ControlID, h.controlMsgs)
	h.display = mk(wire.DisplayLabel, wire.DisplayID, nil)
	h.input = mk(wire.InputLabel, wire.InputID, h.inputMsgs)
	var closeOnce sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateClosed || s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateDisconnected {
			closeOnce.Do(func() { close(h.closed) })
		}
	})
	pc.OnICECandidate(func(c *webrtc.ICECandidate) { fc.send(localCandidate(c)) })
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatalf("host set offer: %v", err)
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatalf("host answer: %v", err)
	}
	fc.send(proto.Message{Type: proto.TypeAnswer, SDP: answer.SDP})
	if err := pc.SetLocalDescription(answer); err != nil {
		t.Fatalf("host set answer: %v", err)
	}
	return h
}

func (h *fakeHost) addCandidate(c proto.Candidate) {
	init := webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
	if err := h.pc.AddICECandidate(init); err != nil {
		h.t.Errorf("host add candidate %q: %v", c.Candidate, err)
	}
}

func (h *fakeHost) sendDisplay(msgs ...[]byte) {
	h.t.Helper()
	for _, m := range msgs {
		if err := h.display.Send(m); err != nil {
			h.t.Fatalf("host display send: %v", err)
		}
	}
}

func (h *fakeHost) sendControl(c wire.Control) {
	h.t.Helper()
	if err := h.control.SendText(string(c.Encode())); err != nil {
		h.t.Fatalf("host control send: %v", err)
	}
}

// recv returns the next message from ch.
func recv(ctx context.Context, t *testing.T, ch <-chan []byte) []byte {
	t.Helper()
	select {
	case b := <-ch:
		return b
	case <-ctx.Done():
		t.Fatal("no message")
		return nil
	}
}

// joinAsync runs Join in the background; the host must send a FRAME for it to return.
func joinAsync(ctx context.Context, t *testing.T, f *fakeServer) <-chan *Session {
	out := make(chan *Session, 1)
	go func() {
		s, err := Join(ctx, f.srv.URL, testConnection, testCookie, clientOptions(t)...)
		if err != nil {
			t.Errorf("Join: %v", err)
		} else {
			t.Cleanup(func() { _ = s.Close() })
		}
		out <- s
	}()
	return out
}

// joinDisplayed joins a new fake server whose host sends a w×h display and its first frame,
// and returns the host and the joined session.
func joinDisplayed(ctx context.Context, t *testing.T, w, h int) (*fakeHost, *Session) {
	t.Helper()
	_, host, s := joinDisplayedOn(ctx, t, newFakeServer(t, true), w, h)
	return host, s
}

// joinDisplayedOn is joinDisplayed through f, and also returns the server's side of the socket.
func joinDisplayedOn(ctx context.Context, t *testing.T, f *fakeServer, w, h int) (*fakeConn, *fakeHost, *Session) {
	t.Helper()
	joined := joinAsync(ctx, t, f)
	fc := f.nextConn(ctx)
	host := f.nextHost(ctx)
	host.sendDisplay(wire.EncodeSize(w, h), wire.EncodeFrame(1))
	return fc, host, awaitJoin(ctx, t, joined)
}

func awaitJoin(ctx context.Context, t *testing.T, joined <-chan *Session) *Session {
	t.Helper()
	select {
	case s := <-joined:
		if s == nil {
			t.FailNow()
		}
		return s
	case <-ctx.Done():
		t.Fatal("Join never returned")
		return nil
	}
}

// pattern is a tile whose every pixel differs, so that misplacement shows.
func pattern(x, y int) color.RGBA {
	return color.RGBA{R: uint8(x * 7), G: uint8(y * 11), B: uint8(x*y + 3), A: 255}
}

func solid(c color.RGBA) func(x, y int) color.RGBA {
	return func(int, int) color.RGBA { return c }
}

// pngTile encodes a w×h tile at x,y painted by paint (tile-relative coordinates).
func pngTile(t testing.TB, x, y, w, h int, paint func(x, y int) color.RGBA) wire.Tile {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			img.SetRGBA(i, j, paint(i, j))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return wire.Tile{X: x, Y: y, W: w, H: h, Format: wire.FormatPNG, Data: buf.Bytes()}
}

func tilesMsg(ts ...wire.Tile) []byte {
	b := wire.AppendTilesHeader(nil)
	for _, t := range ts {
		b = wire.AppendTile(b, t)
	}
	return b
}

// model is the test's own idea of the framebuffer: opaque black, then tiles painted in order.
type model struct {
	w, h  int
	tiles []modelTile
}

type modelTile struct {
	x, y, w, h int
	paint      func(x, y int) color.RGBA
}

func (m *model) at(x, y int) color.RGBA {
	c := color.RGBA{A: 255}
	for _, t := range m.tiles {
		if x >= t.x && x < t.x+t.w && y >= t.y && y < t.y+t.h {
			c = t.paint(x-t.x, y-t.y)
		}
	}
	return c
}

// checkImage compares img with m pixel by pixel.
func checkImage(t *testing.T, img *image.RGBA, m *model) {
	t.Helper()
	if img == nil {
		t.Fatal("no image")
	}
	if got := img.Bounds(); got != image.Rect(0, 0, m.w, m.h) {
		t.Fatalf("image bounds %v, want %dx%d", got, m.w, m.h)
	}
	bad := 0
	for y := 0; y < m.h; y++ {
		for x := 0; x < m.w; x++ {
			if got, want := img.RGBAAt(x, y), m.at(x, y); got != want {
				if bad < 5 {
					t.Errorf("pixel %d,%d = %v, want %v", x, y, got, want)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d pixels differ", bad)
	}
}

// decodeJSONError is a helper for HTTP tests.
func jsonError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
