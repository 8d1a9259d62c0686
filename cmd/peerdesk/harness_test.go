package main

import (
	"bytes"
	"context"
	"errors"
	"image"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/internal/rtcconf"
	"peerdesk/relay"
	"peerdesk/relay/demo"
	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
	"peerdesk/store"
)

const (
	testAdmin    = "admin"
	testPassword = "correct horse battery"
)

// harness is a whole peerdesk on loopback: a real SQLite file, the signaling server on an
// ephemeral port, and a relay agent serving a demo desktop, all in this process.
type harness struct {
	t      testing.TB
	url    string
	st     *store.Store
	srv    *server
	desk   *demo.Desktop
	agent  *relay.Agent
	connID int64
	data   string // the server's -data directory
	cancel context.CancelFunc
	done   chan error
}

// harnessConfig picks the demo desktop a harness serves.
type harnessConfig struct {
	demo       demo.Config
	pipeline   pipeline.Config
	verbose    bool          // log at debug level instead of warn
	ownerGrace time.Duration // how long a session outlives its owner (default 10 s)
	// source, if set, makes the desktop the agent serves instead of the demo (h.desk is nil).
	source    func(log zerolog.Logger) (relay.Source, error)
	noCleanup bool
	turn      turnFlags // the TURN server the signaling server hands out (none by default)
	proxies   string    // -trusted-proxies
	// restartGrace is the agent's AgentConfig.RestartGrace (default 30 s).
	restartGrace time.Duration
	// storeClock, if set, is the store's clock (link expiry, login sessions), as an offset
	// from now.
	storeClock time.Duration
	// record turns on the demo connection's "Record sessions" (with key events if recordKeys);
	// recordCreate, if set, opens the recording files.
	record, recordKeys bool
	recordCreate       func(path string) (io.WriteCloser, error)
	recordQueue        int
	// postgres puts the store in a PostgreSQL database instead of a SQLite file.
	postgres bool
}

// loopbackEngine keeps ICE on loopback, as every test here must (FIELD-NOTES.md).
func loopbackEngine() *webrtc.SettingEngine { return rtcconf.Loopback() }

// testLogger logs into the test's log. pion's goroutines may log a moment after a peer
// connection's Close returns, so lines arriving after the test ended are dropped instead of
// panicking the test binary.
func testLogger(t testing.TB, verbose bool) zerolog.Logger {
	w := &lateSafeWriter{t: t}
	t.Cleanup(w.stop)
	level := zerolog.WarnLevel
	if verbose {
		level = zerolog.DebugLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// lateSafeWriter writes to t.Log until stop.
type lateSafeWriter struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (w *lateSafeWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Logf("%s", bytes.TrimRight(b, "\n"))
	}
	return len(b), nil
}

func (w *lateSafeWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

func newHarness(t testing.TB, cfg harnessConfig) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := testLogger(t, cfg.verbose)
	f := serverFlags{listen: "127.0.0.1:0", dbFlags: dbFlags{data: t.TempDir()}, adminUser: testAdmin, ownerGrace: cfg.ownerGrace, turn: cfg.turn,
		maxPeersUser: 64, maxPeersAddr: 64, proxies: cfg.proxies, // the benchmarks join up to 32 peers as one user
		recordings: recordingFlags{engine: loopbackEngine(), create: cfg.recordCreate, queue: cfg.recordQueue},
		ops:        opsFlags{metricsAllow: "127.0.0.1"}}
	if cfg.postgres {
		f.database = postgresDatabase(t)
	}
	var opts []store.Option
	if cfg.storeClock != 0 {
		opts = append(opts, store.WithClock(func() time.Time { return time.Now().Add(cfg.storeClock) }))
	}
	st, srv, token, c := startTestServer(ctx, t, &f, log, opts...)
	var err error
	if cfg.record {
		if _, err = st.SetRecording(ctx, c.ID, true, cfg.recordKeys); err != nil {
			t.Fatal(err)
		}
	}
	var src relay.Source
	var desk *demo.Desktop
	if cfg.source != nil {
		src, err = cfg.source(log)
	} else {
		if cfg.demo.Width == 0 {
			cfg.demo.Width, cfg.demo.Height = 320, 240
		}
		desk, err = demo.New(cfg.demo)
		src = desk
	}
	if err != nil {
		t.Fatal(err)
	}
	agent, err := relay.NewAgent(relay.AgentConfig{
		ServerURL:     srv.url,
		Token:         token,
		Source:        src,
		Logger:        log,
		SettingEngine: loopbackEngine(),
		Pipeline:      cfg.pipeline,
		MinBackoff:    20 * time.Millisecond,
		RestartGrace:  cfg.restartGrace,

		AllowLocalCandidates: true, // the peers are on loopback
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, url: srv.url, st: st, srv: srv, desk: desk, agent: agent, connID: int64(c.ID), data: f.data, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- agent.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := agent.WaitOnline(wctx); err != nil {
		t.Fatalf("agent never came online: %v", err)
	}
	if !cfg.noCleanup {
		t.Cleanup(h.close)
	}
	return h
}

// startTestServer opens the store of f with the admin and the demo connection, and starts the
// signaling server; it returns them with the connection's agent token. The caller closes both.
func startTestServer(ctx context.Context, t testing.TB, f *serverFlags, log zerolog.Logger, opts ...store.Option) (*store.Store, *server, string, store.Connection) {
	t.Helper()
	st, err := store.Open(ctx, f.dbPath(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateUser(ctx, testAdmin, testPassword, true); err != nil {
		t.Fatal(err)
	}
	token, err := demoToken(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.ConnectionByName(ctx, demoConnection)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := startServer(ctx, st, f, log)
	if err != nil {
		t.Fatal(err)
	}
	return st, srv, token, c
}

// close stops the agent, the server and the store, in that order.
func (h *harness) close() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil && !errors.Is(err, context.Canceled) {
			h.t.Errorf("agent: %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Error("agent did not stop within 10 s")
	}
	if err := h.srv.close(); err != nil {
		h.t.Errorf("server close: %v", err)
	}
	if err := h.st.Close(); err != nil {
		h.t.Errorf("store close: %v", err)
	}
}

// login logs in as the admin and returns the session cookie.
func (h *harness) login(ctx context.Context) string {
	h.t.Helper()
	cookie, err := client.Login(ctx, h.url, testAdmin, testPassword)
	if err != nil {
		h.t.Fatal(err)
	}
	return cookie
}

// join logs in as the admin and joins the demo connection as a Go peer.
func (h *harness) join(ctx context.Context, opts ...client.Option) *client.Session {
	h.t.Helper()
	cookie := h.login(ctx)
	opts = append([]client.Option{client.WithSettingEngine(*loopbackEngine()), client.WithLogger(testLogger(h.t, false))}, opts...)
	s, err := client.Join(ctx, h.url, h.connID, cookie, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = s.Close() })
	return s
}

// waitHost waits until the peer's framebuffer equals the host desktop exactly.
func waitHost(ctx context.Context, t testing.TB, s *client.Session, d *demo.Desktop) {
	t.Helper()
	var last *image.RGBA
	err := s.WaitFor(ctx, func(img *image.RGBA) bool {
		last = img
		return diffPixels(img, d.Snapshot()) == 0
	})
	if err != nil {
		n := -1
		if last != nil {
			n = diffPixels(last, d.Snapshot())
		}
		t.Fatalf("peer never matched the host: %v (%d pixels differ)", err, n)
	}
}

// clickChangesHost clicks at (100, 120) as p, waits up to 10 s until the host has applied both
// events and fails unless its desktop changed, then waits until p shows the host's desktop.
func clickChangesHost(ctx context.Context, t testing.TB, h *harness, p *client.Session) {
	t.Helper()
	before := h.desk.Snapshot()
	if err := p.Pointer(100, 120, wire.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	if err := p.Pointer(100, 120, 0); err != nil {
		t.Fatal(err)
	}
	applyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	waitApplied(applyCtx, t, h, 2)
	if diffPixels(before, h.desk.Snapshot()) == 0 {
		t.Fatal("input did not change the host desktop")
	}
	waitHost(ctx, t, p, h.desk)
}

// diffPixels counts the pixels that differ between two images (all of them if sizes differ).
func diffPixels(a, b *image.RGBA) int {
	if a.Bounds() != b.Bounds() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i, j := a.PixOffset(x, y), b.PixOffset(x, y)
			if a.Pix[i] != b.Pix[j] || a.Pix[i+1] != b.Pix[j+1] || a.Pix[i+2] != b.Pix[j+2] {
				n++
			}
		}
	}
	return n
}
