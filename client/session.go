package client

import (
	"context"
	"fmt"
	"image"
	"math"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// Session is one participant in a live session, joined with Join. Its methods are safe for
// concurrent use. The session lasts until Close, or until the server ends it or the
// signaling connection fails (see Done and Err); the host may come and go meanwhile.
type Session struct {
	log     zerolog.Logger
	sampled zerolog.Logger // for what a misbehaving relay could make frequent
	sig     *signaling
	api     *webrtc.API
	fb      *framebuffer
	events  *eventQueue

	ctx    context.Context // ends with the session; its cause is Err
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // run, the signaling writer and the channel readers

	// Used by the run goroutine only.
	iceServers []webrtc.ICEServer
	policy     webrtc.ICETransportPolicy
	caps       uint32 // the display features announced in CAPS (wire.Cap bits)
	// tapDisplay and tapControl see every message of their channel (WithDisplayTap,
	// WithControlTap); nil without.
	tapDisplay func(context.Context, []byte)
	tapControl func(string, []byte)

	// iceChanged wakes run when the peer connection's ICE state changed (one slot).
	iceChanged  chan struct{}
	peerConns   atomic.Uint64
	iceRestarts atomic.Uint64

	mu      sync.Mutex
	peer    *peer // nil while the host is unavailable
	welcome wire.Control
	link    wire.Control // the last link message
	hello   proto.Message
	roster  Roster // never modified in place: replaced by every presence message
	// rosterChanged is closed and replaced whenever roster is.
	rosterChanged chan struct{}

	freezeMu sync.Mutex
	thaw     chan struct{} // non-nil while frozen; Resume closes it
}

// Hello returns the signaling server's hello: who the server says this peer is, whether it is
// read-only, and the live session it joined.
func (s *Session) Hello() proto.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hello
}

// Join connects to connection on the server as a peer authenticated by a login cookie (see
// Login), and returns once the display has received its first FRAME, or ctx ends, or the
// session fails. ctx bounds the joining only; the session lasts until Close.
func Join(ctx context.Context, serverURL string, connection int64, cookie string, opts ...Option) (*Session, error) {
	t, err := connectionTarget(connection, cookie)
	if err != nil {
		return nil, err
	}
	return join(ctx, serverURL, t, opts)
}

// JoinShare joins the live session of a share URL (http(s)://host/s/KEY) as a guest, or as the
// user of a login cookie given with WithCookie, and returns once the first FRAME arrived. A
// dead, unknown or full link fails with ErrHTTP carrying the server's message.
func JoinShare(ctx context.Context, shareURL string, opts ...Option) (*Session, error) {
	o := buildOptions(opts)
	server, t, err := shareTarget(shareURL, o.cookie)
	if err != nil {
		return nil, err
	}
	return join(ctx, server, t, opts)
}

// Record joins live session id on the server as the server's own recorder (read-only, left
// out of presence): only the server's in-process listener accepts it (signaling's recorder
// dials it with WithHTTPClient). It returns once the first FRAME arrived.
func Record(ctx context.Context, serverURL, session string, opts ...Option) (*Session, error) {
	t := target{query: url.Values{"record": {session}}, desc: "the recording of a session"}
	return join(ctx, serverURL, t, opts)
}

func join(ctx context.Context, serverURL string, t target, opts []Option) (*Session, error) {
	o := buildOptions(opts)
	log := o.log.With().Str("component", "client").Str("target", t.desc).Logger()
	o.log = log
	sig, err := dialSignaling(ctx, &o, serverURL, t)
	if err != nil {
		return nil, err
	}
	sampled := sampledLogger(log)
	s := &Session{
		log:        log,
		sampled:    sampled,
		sig:        sig,
		api:        webrtc.NewAPI(webrtc.WithSettingEngine(o.settingEngine())),
		fb:         newFramebuffer(sampled, o.countOnly, o.skipPhotos),
		events:     newEventQueue(),
		policy:     o.transportPolicy(),
		caps:       o.caps(),
		tapDisplay: o.onDisplay,
		tapControl: o.onControl,

		iceChanged:    make(chan struct{}, 1),
		rosterChanged: make(chan struct{}),
	}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		<-s.ctx.Done()
		sig.close()
	}()
	go func() {
		defer s.wg.Done()
		defer s.closePeer()
		s.fail(s.run())
	}()
	if err := s.WaitFrames(ctx, 1); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("client: join %s: %w", t.desc, err)
	}
	return s, nil
}

// sampledLogger keeps at most a few lines a second of what a misbehaving peer could make
// frequent.
func sampledLogger(l zerolog.Logger) zerolog.Logger {
	return l.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Second})
}

// fail ends the session with err as its cause, unless it has already ended.
func (s *Session) fail(err error) {
	if s.ctx.Err() == nil {
		s.log.Info().Err(err).Msg("session ends")
	}
	s.cancel(err)
}

// signal queues m for the server without blocking; when it cannot (see signaling.send), it
// fails the session and returns why.
func (s *Session) signal(m proto.Message) error {
	err := s.sig.send(m)
	if err != nil {
		s.fail(err)
	}
	return err
}

// Done is closed when the session ends; Err then says why.
func (s *Session) Done() <-chan struct{} { return s.ctx.Done() }

// Err returns nil while the session lasts, then why it ended: ErrClosed after Close, an error
// wrapping ErrEnded when the server ended it, or the signaling failure.
func (s *Session) Err() error {
	if s.ctx.Err() == nil {
		return nil
	}
	return context.Cause(s.ctx)
}

// Close ends the session: it closes the peer connection and the WebSocket and returns once
// every goroutine of the session has stopped. It is safe to call more than once.
func (s *Session) Close() error {
	s.cancel(ErrClosed)
	s.wg.Wait()
	return nil
}

// Image returns a copy of the framebuffer (nil before the first SIZE).
func (s *Session) Image() *image.RGBA {
	img, _, _ := s.fb.snapshot(true)
	return img
}

// Size returns the desktop size.
func (s *Session) Size() (w, h int) { return s.fb.size() }

// Frames returns the number of FRAME messages applied so far.
func (s *Session) Frames() uint64 {
	_, n, _ := s.fb.snapshot(false)
	return n
}

// WaitFrames blocks until Frames() >= n, ctx ends (ctx.Err()) or the session ends (Err()).
func (s *Session) WaitFrames(ctx context.Context, n uint64) error {
	for {
		_, got, next := s.fb.snapshot(false)
		if got >= n {
			return nil
		}
		if err := s.wait(ctx, next); err != nil {
			return err
		}
	}
}

// WaitFor blocks until cond holds for the framebuffer, checking it now and after each FRAME;
// cond gets a copy it may keep. It fails like WaitFrames.
func (s *Session) WaitFor(ctx context.Context, cond func(img *image.RGBA) bool) error {
	for {
		img, _, next := s.fb.snapshot(true)
		if img != nil && cond(img) {
			return nil
		}
		if err := s.wait(ctx, next); err != nil {
			return err
		}
	}
}

func (s *Session) wait(ctx context.Context, next <-chan struct{}) error {
	select {
	case <-next:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.ctx.Done():
		return s.Err()
	}
}

// Cursor returns a copy of the desktop's pointer shape, to draw at the local pointer position
// with its hotspot there; img is nil before the relay sent a shape and while it has none to
// draw (the desktop hides its pointer or draws it into its pixels).
func (s *Session) Cursor() (img image.Image, hotspot image.Point) {
	shape, hot, _ := s.fb.cursorState()
	if shape == nil {
		return nil, image.Point{}
	}
	return &image.NRGBA{Pix: slices.Clone(shape.Pix), Stride: shape.Stride, Rect: shape.Rect}, hot
}

// WaitCursor blocks until cond holds for the pointer shape (as Cursor returns it), checking it
// now and after each CURSOR message. It fails like WaitFrames.
func (s *Session) WaitCursor(ctx context.Context, cond func(img image.Image, hotspot image.Point) bool) error {
	for {
		_, _, next := s.fb.cursorState()
		if cond(s.Cursor()) {
			return nil
		}
		if err := s.wait(ctx, next); err != nil {
			return err
		}
	}
}

// Events returns the control messages from the relay (welcome, error, desktop, clipboard,
// presence...) and the signaling server's error messages (as wire.Control of type "error").
// The buffer is bounded: when it is full the oldest event is dropped and counted in Stats
// (Roster always has the last presence). The channel is never closed: select on Done too.
func (s *Session) Events() <-chan wire.Control { return s.events.ch }

// Welcome returns the last welcome message received, the zero Control before the first.
func (s *Session) Welcome() wire.Control {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.welcome
}

// Stats returns the session's counters.
func (s *Session) Stats() Stats {
	st := s.fb.counters()
	st.EventsDropped = s.events.dropped.Load()
	st.PeerConnections = s.peerConns.Load()
	st.ICERestarts = s.iceRestarts.Load()
	s.mu.Lock()
	st.LinkLimited, st.LinkRate, st.LinkLighter = s.link.State == wire.LinkLimited, s.link.Rate, s.link.Lighter
	s.mu.Unlock()
	return st
}

// Pointer sends a pointer message: position in framebuffer pixels and buttons (wire.Button*).
func (s *Session) Pointer(x, y int, buttons uint8) error {
	if !inU16(x) || !inU16(y) || buttons&^(wire.ButtonLeft|wire.ButtonMiddle|wire.ButtonRight) != 0 {
		return fmt.Errorf("%w: pointer %d,%d buttons 0x%02x", ErrInvalidArgument, x, y, buttons)
	}
	return s.send(wire.InputID, wire.EncodePointer(x, y, buttons))
}

// Wheel sends a wheel message at x,y of dx,dy steps (positive dy scrolls down).
func (s *Session) Wheel(x, y, dx, dy int) error {
	if !inU16(x) || !inU16(y) || !inI16(dx) || !inI16(dy) {
		return fmt.Errorf("%w: wheel at %d,%d by %d,%d", ErrInvalidArgument, x, y, dx, dy)
	}
	return s.send(wire.InputID, wire.EncodeWheel(x, y, dx, dy))
}

// Key sends a key press (down) or release of an X11 keysym.
func (s *Session) Key(keysym uint32, down bool) error {
	return s.send(wire.InputID, wire.EncodeKey(keysym, down))
}

// SetClipboard puts text on the host desktop's clipboard, if this participant has full access
// (the relay drops it silently otherwise). text must be valid UTF-8 of at most
// wire.MaxClipboard bytes.
func (s *Session) SetClipboard(text string) error {
	if len(text) > wire.MaxClipboard || !utf8.ValidString(text) {
		return fmt.Errorf("%w: clipboard text of %d bytes (at most %d of UTF-8)", ErrInvalidArgument, len(text), wire.MaxClipboard)
	}
	return s.send(wire.InputID, wire.EncodeClipboard(text))
}

// SendRawInput sends b as is on the input channel, for tests of the relay's validation.
func (s *Session) SendRawInput(b []byte) error { return s.send(wire.InputID, b) }

// RequestRefresh asks the relay for the whole desktop again (REFRESH: SIZE, the cursor, every
// tile, FRAME), as if this peer had just joined. The relay honours one per wire.RefreshEvery.
func (s *Session) RequestRefresh() error { return s.send(wire.DisplayID, wire.EncodeRefresh()) }

// SendRawControl sends b as is, as a text message, on the control channel.
func (s *Session) SendRawControl(b []byte) error { return s.send(wire.ControlID, b) }

// send writes b on the current peer connection's channel id; it fails with ErrNotConnected
// while that channel is not open.
func (s *Session) send(id uint16, b []byte) error {
	if err := s.Err(); err != nil {
		return err
	}
	var ch channel
	s.mu.Lock()
	if p := s.peer; p != nil {
		switch id {
		case wire.ControlID:
			ch = p.control
		case wire.DisplayID:
			ch = p.display
		default:
			ch = p.input
		}
	}
	s.mu.Unlock()
	if ch == nil {
		return ErrNotConnected
	}
	if _, err := ch.WriteDataChannel(b, id == wire.ControlID); err != nil {
		return fmt.Errorf("client: send: %w", err)
	}
	return nil
}

// Freeze stops reading the display channel (after at most one more message) until Resume,
// so that the relay sees a peer that does not keep up. For slow-consumer tests and benchmarks.
func (s *Session) Freeze() {
	s.freezeMu.Lock()
	defer s.freezeMu.Unlock()
	if s.thaw == nil {
		s.thaw = make(chan struct{})
	}
}

// Resume undoes Freeze.
func (s *Session) Resume() {
	s.freezeMu.Lock()
	defer s.freezeMu.Unlock()
	if s.thaw != nil {
		close(s.thaw)
		s.thaw = nil
	}
}

// waitThawed blocks while the session is frozen; it returns false if ctx ends first.
func (s *Session) waitThawed(ctx context.Context) bool {
	s.freezeMu.Lock()
	thaw := s.thaw
	s.freezeMu.Unlock()
	if thaw == nil {
		return true
	}
	select {
	case <-thaw:
		return true
	case <-ctx.Done():
		return false
	}
}

func inU16(v int) bool { return v >= 0 && v <= math.MaxUint16 }
func inI16(v int) bool { return v >= math.MinInt16 && v <= math.MaxInt16 }
