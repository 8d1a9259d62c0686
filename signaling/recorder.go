package signaling

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// Defaults of RecordingConfig.
const (
	// DefaultRecordingMaxAge is RecordingConfig.MaxAge when zero.
	DefaultRecordingMaxAge = 30 * 24 * time.Hour
	// DefaultRecordingMaxBytes is RecordingConfig.MaxBytes when zero.
	DefaultRecordingMaxBytes = 10 << 30
	// DefaultRecordingQueueBytes is RecordingConfig.QueueBytes when zero.
	DefaultRecordingQueueBytes = 8 << 20
)

// recordingExt names recording files.
const recordingExt = ".pdrec"

// RecordingConfig configures session recording (docs/PROTOCOL.md, 5).
type RecordingConfig struct {
	// Dir holds the recording files; "" turns recordings off altogether (none is kept,
	// served or removed).
	Dir string
	// Disabled records nothing (a connection's Record option then has no effect, and nobody is
	// told a session is recorded), while the recordings already in Dir are still served,
	// deleted by admins and removed by the retention.
	Disabled bool
	// MaxAge and MaxBytes are the retention, applied at start and every hour: recordings that
	// ended longer ago than MaxAge are removed, then the oldest ended ones until all of them
	// (those in progress too) take at most MaxBytes. Zero means DefaultRecordingMaxAge,
	// DefaultRecordingMaxBytes.
	MaxAge   time.Duration
	MaxBytes int64
	// QueueBytes bounds what a recorder holds for a disk that falls behind; past it the
	// recorder reads no more and the relay holds its stream back, as for any slow peer. Zero
	// means DefaultRecordingQueueBytes.
	QueueBytes int
	// SettingEngine is the recorder's WebRTC settings (tests keep ICE on loopback); nil means
	// pion's defaults with loopback candidates, for an agent on the server's host.
	SettingEngine *webrtc.SettingEngine
	// Create opens a new recording file for writing; nil means an exclusive os.OpenFile with
	// mode 0600. Tests stall it to play a disk that stops.
	Create func(path string) (io.WriteCloser, error)
}

func (c *RecordingConfig) validate() error {
	if c.MaxAge < 0 || c.MaxBytes < 0 || c.QueueBytes < 0 {
		return fmt.Errorf("%w: negative recording retention", ErrInvalidConfig)
	}
	return nil
}

// recorders runs the recorder of every recorded live session: a peer of the server's own that
// joins like any participant through an in-memory listener, read-only and left out of the
// roster, so that the relay's slow-peer isolation covers a slow disk; the server owns the files.
type recorders struct {
	srv    *Server
	cfg    RecordingConfig
	log    zerolog.Logger
	ln     *pipeListener
	http   *http.Server
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// pruneMu makes retention passes and deletions by admins one at a time.
	pruneMu sync.Mutex

	mu     sync.Mutex
	closed bool // no recorder starts any more
	live   atomic.Int64
}

// newRecorders starts the in-memory listener, completes the index rows of recordings a crash
// cut short, applies the retention and starts its loop. It returns nil without a Dir.
func newRecorders(srv *Server, cfg RecordingConfig) (*recorders, error) {
	if cfg.Dir == "" {
		return nil, nil
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	if err := os.Chmod(cfg.Dir, 0o700); err != nil { // one made before, by hand, too
		return nil, fmt.Errorf("recordings directory: %w", err)
	}
	cfg.MaxAge = cmp.Or(cfg.MaxAge, DefaultRecordingMaxAge)
	cfg.MaxBytes = cmp.Or(cfg.MaxBytes, DefaultRecordingMaxBytes)
	cfg.QueueBytes = cmp.Or(cfg.QueueBytes, DefaultRecordingQueueBytes)
	if cfg.Create == nil {
		cfg.Create = func(path string) (io.WriteCloser, error) {
			return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &recorders{srv: srv, cfg: cfg, log: srv.log.With().Str("side", "recorder").Logger(), ln: newPipeListener(), ctx: ctx, cancel: cancel}
	m.http = &http.Server{
		Handler: srv.handler,
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, internalConn{}, true)
		},
	}
	m.client = &http.Client{Transport: &http.Transport{DialContext: m.ln.dial}}
	if err := m.completeCrashed(ctx); err != nil {
		cancel()
		return nil, err
	}
	if err := m.prune(ctx); err != nil {
		m.log.Error().Err(err).Msg("recording retention")
	}
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		_ = m.http.Serve(m.ln) // ends with Close
	}()
	go func() {
		defer m.wg.Done()
		m.retain()
	}()
	return m, nil
}

// active counts the sessions being recorded; 0 without recordings.
func (m *recorders) active() int {
	if m == nil {
		return 0
	}
	return int(m.live.Load())
}

// records reports whether the server records sessions (it may only keep recordings).
func (m *recorders) records() bool { return m != nil && !m.cfg.Disabled }

// close stops every recorder (each finishes its file) and the listener; none starts after.
func (m *recorders) close() {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	m.cancel()
	_ = m.ln.Close()
	_ = m.http.Close()
	m.wg.Wait()
}

// completeCrashed gives the recordings still open in the index — the server stopped without
// finishing them — their file's size and last modification as their end.
func (m *recorders) completeCrashed(ctx context.Context) error {
	recs, err := m.srv.store.Recordings(ctx)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if !r.EndedAt.IsZero() {
			continue
		}
		size, ended := int64(0), r.StartedAt
		if fi, err := os.Stat(filepath.Join(m.cfg.Dir, r.File)); err == nil {
			size, ended = fi.Size(), fi.ModTime()
		}
		if err := m.srv.store.UpdateRecording(ctx, r.ID, size, ended); err != nil {
			return err
		}
	}
	return nil
}

// start records live session sess from now until it ends, unless the server is closing.
func (m *recorders) start(sess *session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	m.live.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.live.Add(-1)
		m.record(sess)
	}()
}

// path returns the path of a recording file.
func (m *recorders) path(file string) string { return filepath.Join(m.cfg.Dir, file) }

// retain applies the retention every hour.
func (m *recorders) retain() {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
		if err := m.prune(m.ctx); err != nil && m.ctx.Err() == nil {
			m.log.Error().Err(err).Msg("recording retention")
		}
	}
}

// prune removes the ended recordings older than MaxAge, then the oldest ended ones while all of
// them take more than MaxBytes.
func (m *recorders) prune(ctx context.Context) error {
	m.pruneMu.Lock()
	defer m.pruneMu.Unlock()
	recs, err := m.srv.store.Recordings(ctx)
	if err != nil {
		return err
	}
	var total int64
	for _, r := range recs {
		total += r.Size
	}
	cutoff := m.srv.now().Add(-m.cfg.MaxAge)
	var errs []error
	for _, r := range recs { // oldest first
		if r.EndedAt.IsZero() || (!r.EndedAt.Before(cutoff) && total <= m.cfg.MaxBytes) {
			continue
		}
		if err := m.removeLocked(ctx, r); err != nil {
			errs = append(errs, err) // the others go anyway
			continue
		}
		total -= r.Size
		m.log.Info().Int64("recording", int64(r.ID)).Str("session", r.Session).Msg("recording removed by retention")
	}
	return errors.Join(errs...)
}

// remove deletes a recording's file and index row (admins delete with it).
func (m *recorders) remove(ctx context.Context, r store.Recording) error {
	m.pruneMu.Lock()
	defer m.pruneMu.Unlock()
	return m.removeLocked(ctx, r)
}

func (m *recorders) removeLocked(ctx context.Context, r store.Recording) error {
	if err := os.Remove(m.path(r.File)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove recording %d: %w", r.ID, err)
	}
	return m.srv.store.DeleteRecording(ctx, r.ID)
}

// handleRecorderWS serves the WebSocket of the server's own recorder (?record=SESSION), which
// only comes through the in-memory listener: read-only, never in the history or the roster,
// never charged to an address or a user.
func (s *Server) handleRecorderWS(w http.ResponseWriter, r *http.Request) {
	if !internalRequest(r.Context()) {
		writeError(w, http.StatusForbidden, "only the server records sessions")
		return
	}
	sess := s.hub.session(SessionID(r.URL.Query().Get("record")))
	if sess == nil {
		writeError(w, http.StatusNotFound, msgSessionEnded)
		return
	}
	p := &peer{id: newPeerID(), sess: sess, readOnly: true, recordKeys: sess.conn.RecordKeys,
		identity: proto.Identity{Name: "Recorder", Role: proto.RoleRecorder}}
	log := s.log.With().Str("side", "recorder").Str("peer", string(p.id)).Str("session", string(sess.id)).Logger()
	s.servePeer(w, r, log, p, 0, func() {})
}
