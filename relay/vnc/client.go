// Package vnc serves the desktop of a VNC server: a focused RFB 3.8 client (also speaking to
// 3.3 and 3.7 servers) that keeps the server's framebuffer, reports its changes, its cursor
// shape, its clipboard and whether the server is reachable, and forwards pointer, key and
// clipboard input. It satisfies the relay's Source and Notifier interfaces.
package vnc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// Config configures a Client. Zero values mean the defaults.
type Config struct {
	// Addr is the VNC server's HOST:PORT. Required.
	Addr string
	// Password answers VNC Authentication; only its first 8 bytes count. Empty means the
	// server must offer security type None. Never logged.
	Password string
	// Logger receives connection events.
	Logger zerolog.Logger
	// DialTimeout bounds connecting and the RFB handshake (default 10 s).
	DialTimeout time.Duration
	// WriteTimeout bounds each write to the server (default 5 s); a write that times out
	// drops the connection.
	WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait before reconnecting to a server that went away
	// (defaults 250 ms and 10 s); the wait doubles after each failed attempt.
	MinBackoff, MaxBackoff time.Duration
}

func (c Config) withDefaults() Config {
	if c.DialTimeout == 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Second
	}
	return c
}

func (c Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("%w: address %q: %w", ErrConfig, c.Addr, err)
	}
	if c.DialTimeout < 0 || c.WriteTimeout < 0 || c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff {
		return fmt.Errorf("%w: negative timeout or MaxBackoff below MinBackoff", ErrConfig)
	}
	return nil
}

// Client shows a VNC server's desktop. Input may be called from any goroutine, also while Run
// runs.
type Client struct {
	cfg       Config
	log       zerolog.Logger
	encodings []int32 // asked of the server, in order of preference
	running   atomic.Bool

	demand sync.Mutex // serialises SetDemand and a new connection taking the demand on
	mu     sync.Mutex
	cur    *conn    // the connected session; nil while none is
	notify notifier // set by Notify, read by Run
	idle   bool     // SetDemand(false): nobody watches
}

// SetDemand says whether anyone watches the desktop. While nobody does, the client asks the
// server for no updates, so that neither it nor the server works for nobody; when someone
// does again, it asks for every pixel. Safe from any goroutine.
func (cl *Client) SetDemand(watched bool) {
	cl.demand.Lock()
	defer cl.demand.Unlock()
	cl.mu.Lock()
	cl.idle = !watched
	c := cl.cur
	cl.mu.Unlock()
	if c != nil {
		cl.applyDemand(c, !watched)
	}
}

// applyDemand makes c idle or not; cl.demand is held.
func (cl *Client) applyDemand(c *conn, idle bool) {
	if err := c.setIdle(idle); err != nil {
		cl.log.Debug().Err(err).Msg("update request after idle not sent") // the reader reconnects
	}
}

// unavailableReason is what participants read while the server is away: the details, which
// may name hosts, go to the log only.
const unavailableReason = "the host's VNC server is not reachable; reconnecting"

// Notify sets the functions that Run calls, from its goroutine, besides update: desktop when
// the server goes away (after a connection fails or ends, also the first) and when a
// connection is made again; cursor with every pointer shape the server sends (pixels with an
// alpha of 0 or 255 from its bitmask, hotspot inside or on the shape; an empty shape for an
// invisible pointer); clipboard with the server's cut text (Latin-1 as RFB requires, decoded
// to UTF-8 and cut to wire.MaxClipboard bytes). Any function may be nil. Call it before Run.
func (cl *Client) Notify(desktop func(available bool, reason string), cursor func(shape *image.NRGBA, hotspot image.Point), clipboard func(text string)) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.notify = notifier{desktop: desktop, cursor: cursor, clipboard: clipboard, copy: cl.notify.copy}
}

// NotifyCopies sets the function told of each CopyRect the server sends (relay.Copier): from
// Run's goroutine, before the update whose damage holds the destination. Call it before Run.
func (cl *Client) NotifyCopies(copy func(src image.Rectangle, dst image.Point)) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.notify.copy = copy
}

// New returns a client for the server of cfg; Run connects to it.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Client{
		cfg:       cfg,
		log:       cfg.Logger.With().Str("component", "vnc").Str("addr", cfg.Addr).Logger(),
		encodings: defaultEncodings,
	}, nil
}

// Run connects to the server and calls update with the framebuffer and its damage after every
// update the server sends, until ctx ends. When the server goes away (or cannot be reached at
// first), Run logs it, reports it through Notify's desktop function, keeps the last frame and
// reconnects with backoff. It returns ctx.Err(); an error wrapping ErrAuth or
// ErrUnsupported, which no retry would cure; or ErrRunning if another Run is under way. update
// must not retain the frame.
func (cl *Client) Run(ctx context.Context, update func(frame *image.RGBA, damage []image.Rectangle)) error {
	if !cl.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer cl.running.Store(false)
	cl.mu.Lock()
	n := cl.notify
	cl.mu.Unlock()
	var fb *image.RGBA
	backoff := cl.cfg.MinBackoff
	absent := false // the server's absence was reported, and not its return
	onConnect := func() {
		if absent && n.desktop != nil {
			n.desktop(true, "")
		}
		absent = false
	}
	for {
		var connected bool
		var err error
		fb, connected, err = cl.session(ctx, fb, update, n, onConnect)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrUnsupported) {
			return err
		}
		if connected {
			backoff = cl.cfg.MinBackoff
		}
		if !absent && n.desktop != nil {
			n.desktop(false, unavailableReason)
		}
		absent = true
		cl.log.Warn().Err(err).Dur("retry_in", backoff).Msg("VNC server unavailable; peers keep the last frame")
		t := time.NewTimer(backoff + rand.N(backoff/4+1))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
		backoff = min(2*backoff, cl.cfg.MaxBackoff)
	}
}

// session runs one connection until it fails or ctx ends and returns the framebuffer to keep
// and whether the handshake succeeded; it calls onConnect once it has.
func (cl *Client) session(ctx context.Context, fb *image.RGBA, update func(*image.RGBA, []image.Rectangle), n notifier, onConnect func()) (*image.RGBA, bool, error) {
	start := time.Now()
	d := net.Dialer{Timeout: cl.cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", cl.cfg.Addr)
	if err != nil {
		return fb, false, err
	}
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		_ = nc.Close()
		close(closed)
	})
	defer func() {
		if !stop() {
			<-closed
		}
		_ = nc.Close()
	}()

	c := &conn{
		r:            bufio.NewReaderSize(nc, 64<<10),
		w:            nc,
		log:          cl.log,
		maxDim:       wire.MaxDimension,
		writeTimeout: cl.cfg.WriteTimeout,
		notify:       n,
	}

	if err := nc.SetDeadline(start.Add(cl.cfg.DialTimeout)); err != nil {
		return fb, false, err
	}
	if err := c.handshake(cl.cfg.Password, fb, cl.encodings); err != nil {
		return fb, false, fmt.Errorf("RFB handshake: %w", err)
	}
	if err := nc.SetReadDeadline(time.Time{}); err != nil { // updates come when the desktop changes
		return c.fb, true, err
	}
	cl.log.Info().Str("desktop", c.name).Int("width", c.fb.Rect.Dx()).Int("height", c.fb.Rect.Dy()).
		Int("rfb_minor", c.minor).Dur("handshake", time.Since(start)).Msg("connected to VNC server")

	cl.demand.Lock()
	cl.mu.Lock()
	cl.cur = c
	idle := cl.idle
	cl.mu.Unlock()
	cl.applyDemand(c, idle) // before its first update: the handshake's comes all the same
	cl.demand.Unlock()
	onConnect()
	defer func() {
		cl.mu.Lock()
		cl.cur = nil
		cl.mu.Unlock()
	}()
	return c.fb, true, c.serve(update)
}

// Input sends one input event to the server: pointer buttons 1 to 3, the wheel as buttons 4
// to 7 (a press and release per step), keys by keysym, clipboard text as ClientCutText in
// Latin-1 (every character outside Latin-1 becomes '?', CR LF becomes LF). It returns ErrBadInput for an event of
// unknown type or outside the desktop, and an error wrapping ErrUnavailable while no server is
// connected or the write fails.
func (cl *Client) Input(in wire.Input) error {
	cl.mu.Lock()
	c := cl.cur
	cl.mu.Unlock()
	if c == nil {
		return ErrUnavailable
	}
	err := c.input(in)
	if err == nil || errors.Is(err, ErrBadInput) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}
