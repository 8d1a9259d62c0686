package signaling

import (
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/internal/recfile"
	"peerdesk/internal/rtcconf"
	"peerdesk/relay/wire"
	"peerdesk/store"
)

// How a recorder writes.
const (
	// recordQueueSlack is room beyond RecordingConfig.QueueBytes for control and input records, which never wait
	// (the relay drops a peer that leaves control messages unread); past it they are dropped.
	recordQueueSlack = 1 << 20
	// recordFlushEvery is how often the file gets what was recorded: a crash loses at most
	// about that much.
	recordFlushEvery = time.Second
	// recordIndexEvery is how often the index learns the file's size.
	recordIndexEvery = 10 * time.Second
	// keyframeEvery is the least time between two full frames asked of the relay (REFRESH);
	// one is asked only once the changes since the last full frame weigh half as much as it,
	// so an idle desktop costs nothing and seeking replays at most about 1.5 full frames.
	keyframeEvery = 5 * time.Second
	// recorderRetry is the pause before the recorder joins again after losing the session's
	// socket while the session goes on.
	recorderRetry = time.Second
	// writerStuck bounds how long the end of a recording waits for a writer stuck on its disk.
	writerStuck = 5 * time.Second
)

// queuedRecord is a record waiting for the disk.
type queuedRecord struct {
	kind recfile.Kind
	at   time.Duration
	data []byte
}

// recordQueue hands records from the channel readers to the writer. Past limit bytes the
// display reader waits: the recorder stops reading the display channel, and the relay holds
// back what it sends the recorder, as for any slow peer; the session never waits for the disk.
type recordQueue struct {
	limit int
	mu    sync.Mutex
	items []queuedRecord
	bytes int
	space chan struct{} // one slot: the writer took records
	ready chan struct{} // one slot: records wait
}

func newRecordQueue(limit int) *recordQueue {
	return &recordQueue{limit: limit, space: make(chan struct{}, 1), ready: make(chan struct{}, 1)}
}

// push queues r unless ctx ended (false). With wait it blocks while the queue is full, until
// ctx ends (false); without, it drops r (false) beyond the slack. ctx is checked under the
// queue's lock: a record whose context ended before another was queued never follows it.
func (q *recordQueue) push(ctx context.Context, r queuedRecord, wait bool) bool {
	for {
		q.mu.Lock()
		if ctx.Err() != nil {
			q.mu.Unlock()
			return false
		}
		limit := q.limit
		if !wait {
			limit += recordQueueSlack
		}
		if q.bytes+len(r.data) <= limit || len(q.items) == 0 {
			q.items = append(q.items, r)
			q.bytes += len(r.data)
			q.mu.Unlock()
			signal(q.ready)
			return true
		}
		if !wait {
			q.mu.Unlock()
			return false
		}
		q.mu.Unlock()
		select {
		case <-q.space:
		case <-ctx.Done():
			return false
		}
	}
}

// finish queues the end of the recording, whatever the queue holds.
func (q *recordQueue) finish() {
	q.mu.Lock()
	q.items = append(q.items, queuedRecord{kind: endOfRecording})
	q.mu.Unlock()
	signal(q.ready)
}

// take returns every queued record.
func (q *recordQueue) take() []queuedRecord {
	q.mu.Lock()
	items := q.items
	q.items, q.bytes = nil, 0
	q.mu.Unlock()
	signal(q.space)
	return items
}

// signal fills a one-slot channel unless it is full.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// recording is one session's recording in progress.
type recording struct {
	m     *recorders
	sess  *session
	rec   store.Recording
	start time.Time // the recording's start, on the monotonic clock: records' times count from it
	q     *recordQueue

	full    fullFrames
	dropped atomic.Uint64 // control and input records dropped: the disk was too far behind
	indexed atomic.Int64  // the size last written to the index
}

// fullFrames keeps what the display stream told of its full frames (a SIZE, every tile, a
// FRAME), to decide when to ask the relay for another. The display tap writes it; the keyframe
// ticker reads it; a closing peer connection's reader may still run beside the next one's.
type fullFrames struct {
	mu        sync.Mutex
	lastSize  time.Time // when the last SIZE came
	asked     time.Time // when the last REFRESH was asked for
	coming    bool      // between a SIZE and its FRAME
	fullBytes uint64    // bytes of the last complete full frame, from its SIZE to its FRAME
	comingLen uint64    // bytes of the one coming
	since     uint64    // display bytes since the last complete full frame
}

// saw accounts for display message b.
func (f *fullFrames) saw(b []byte, now time.Time) {
	n := uint64(len(b))
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case b[0] == wire.MsgSize:
		f.lastSize, f.coming, f.comingLen, f.since = now, true, n, 0
	case f.coming:
		f.comingLen += n
		if b[0] == wire.MsgFrame {
			f.coming, f.fullBytes = false, f.comingLen
		}
	default:
		f.since += n
	}
}

// due reports whether to ask for a full frame now, and if so notes that it was asked for: none
// is coming, keyframeEvery passed since the last one and since the last ask (the relay may have
// ignored it), and what changed since the last one weighs at least half of it.
func (f *fullFrames) due(now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.coming || now.Sub(f.lastSize) < keyframeEvery || now.Sub(f.asked) < keyframeEvery || f.since <= f.fullBytes/2 {
		return false
	}
	f.asked = now
	return true
}

// record runs the recording of sess until the session ends or the server closes.
func (m *recorders) record(sess *session) {
	log := m.log.With().Str("session", string(sess.id)).Logger()
	started := m.srv.now()
	file := string(sess.id) + recordingExt
	f, err := m.cfg.Create(m.path(file))
	if err != nil {
		log.Error().Err(err).Msg("recording not started: create its file")
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, storeTimeout)
	rec, err := m.srv.store.CreateRecording(ctx, store.Recording{Session: string(sess.id), Connection: sess.conn.ID, File: file, StartedAt: started})
	cancel()
	if err != nil {
		log.Error().Err(err).Msg("recording not started: index it")
		_ = f.Close()
		_ = os.Remove(m.path(file)) // nothing indexes it
		return
	}
	r := &recording{m: m, sess: sess, rec: rec, start: time.Now(), q: newRecordQueue(m.cfg.QueueBytes)}
	written := make(chan int64, 1)
	go func() { written <- r.write(f) }()
	r.join(log)
	// The writer drains what is queued and ends; a disk that stopped is waited for a while.
	r.q.finish()
	var size int64
	select {
	case size = <-written:
	case <-time.After(writerStuck):
		// Its goroutine stays blocked on the disk; the index gets the file's size so far.
		size = r.indexed.Load()
		if fi, err := os.Stat(m.path(file)); err == nil {
			size = fi.Size()
		}
		log.Error().Msg("recording ended with its file still blocked on the disk")
	}
	ctx, cancel = context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := m.srv.store.UpdateRecording(ctx, rec.ID, size, m.srv.now()); err != nil {
		log.Error().Err(err).Msg("index the end of a recording")
	}
	log.Info().Int64("bytes", size).Uint64("dropped", r.dropped.Load()).Msg("recording ended")
}

// endOfRecording is a pseudo kind that tells the writer to finish.
const endOfRecording recfile.Kind = 0xff

// join keeps the recorder on the session until it ends or the server closes.
func (r *recording) join(log zerolog.Logger) {
	m := r.m
	se := m.cfg.SettingEngine
	if se == nil {
		se = &webrtc.SettingEngine{}
		rtcconf.IncludeLoopback(se)
	}
	for m.ctx.Err() == nil && m.srv.hub.session(r.sess.id) == r.sess {
		ctx, cancel := context.WithCancel(m.ctx)
		go func() { // the session may end while the recorder joins
			defer cancel()
			r.sess.waitEnded(ctx)
		}()
		cs, err := client.Record(ctx, "http://recorder", string(r.sess.id),
			client.WithHTTPClient(m.client), client.WithSettingEngine(*se), client.WithLogger(log),
			client.WithoutImageDecoding(), // it announces VIDEO: a video region is recorded as the viewers get it
			client.WithDisplayTap(r.display), client.WithControlTap(r.control))
		if err == nil {
			r.keyframes(ctx, cs)
			_ = cs.Close()
		}
		cancel()
		if m.ctx.Err() != nil || m.srv.hub.session(r.sess.id) != r.sess {
			return
		}
		log.Warn().Err(err).Msg("recorder lost the session: joining again")
		select {
		case <-m.ctx.Done():
		case <-time.After(recorderRetry):
		}
	}
}

// keyframes asks the relay for a full frame whenever the last one is old and the changes since
// outweigh half of it, until the recorder's session ends.
func (r *recording) keyframes(ctx context.Context, cs *client.Session) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-cs.Done():
			return
		case <-t.C:
		}
		if r.full.due(time.Now()) {
			_ = cs.RequestRefresh() // fails only while the peer connection is down
		}
	}
}

// display records a display message of the peer connection of ctx; it blocks while the disk
// is behind (see recordQueue), and gives up once that peer connection closed: a message of a
// closed one must not land after the next one's SIZE.
func (r *recording) display(ctx context.Context, b []byte) {
	if len(b) == 0 {
		return // malformed: the session skips it too
	}
	r.full.saw(b, time.Now())
	r.q.push(ctx, queuedRecord{kind: recfile.KindDisplay, at: time.Since(r.start), data: slices.Clone(b)}, true)
}

// recordedControls are the control messages a recording keeps, and as what.
var recordedControls = map[string]recfile.Kind{wire.ControlPresence: recfile.KindControl, wire.ControlControl: recfile.KindControl,
	wire.ControlDesktop: recfile.KindControl, wire.ControlInput: recfile.KindInput}

// control records the control messages worth keeping; it never blocks.
func (r *recording) control(typ string, b []byte) {
	kind, ok := recordedControls[typ]
	if !ok {
		return
	}
	if !r.q.push(context.Background(), queuedRecord{kind: kind, at: time.Since(r.start), data: slices.Clone(b)}, false) {
		r.dropped.Add(1)
	}
}

// write writes queued records to f until the end of the recording, flushing every
// recordFlushEvery; it returns the file's size.
func (r *recording) write(f io.WriteCloser) int64 {
	log := r.m.log.With().Str("session", string(r.sess.id)).Logger()
	defer func() {
		if err := f.Close(); err != nil {
			log.Error().Err(err).Msg("close a recording")
		}
	}()
	w, err := recfile.NewWriter(f, recfile.Meta{Session: string(r.sess.id), ConnectionID: int64(r.sess.conn.ID),
		ConnectionName: r.sess.conn.Name, Started: r.rec.StartedAt, Keys: r.sess.conn.RecordKeys})
	if err != nil {
		log.Error().Err(err).Msg("recording not written")
		return 0
	}
	flush := time.NewTicker(recordFlushEvery)
	defer flush.Stop()
	indexed := time.Now()
	failed := false
	for {
		select {
		case <-r.q.ready:
		case <-flush.C:
			if err := w.Flush(); err != nil && !failed {
				failed = true
				log.Error().Err(err).Msg("recording write failed: the rest is not kept")
			}
			if time.Since(indexed) >= recordIndexEvery {
				indexed = time.Now()
				r.index(w.Size())
			}
			continue
		}
		for _, it := range r.q.take() {
			if it.kind == endOfRecording {
				if err := w.Flush(); err != nil && !failed {
					log.Error().Err(err).Msg("recording write failed")
				}
				return w.Size()
			}
			if !failed && w.Size() > r.m.cfg.MaxBytes {
				failed = true // one recording alone would break the retention's budget
				log.Error().Int64("max_bytes", r.m.cfg.MaxBytes).Msg("recording reached the size of all recordings: the rest is not kept")
			}
			if !failed {
				if err := w.Write(it.kind, it.at, it.data); err != nil {
					failed = true
					log.Error().Err(err).Msg("recording write failed: the rest is not kept")
				}
			}
		}
	}
}

// index records the recording's size so far in the store.
func (r *recording) index(size int64) {
	r.indexed.Store(size)
	ctx, cancel := context.WithTimeout(r.m.ctx, storeTimeout)
	defer cancel()
	if err := r.m.srv.store.UpdateRecording(ctx, r.rec.ID, size, time.Time{}); err != nil && !errors.Is(err, context.Canceled) {
		r.m.log.Warn().Err(err).Msg("index a recording's size")
	}
}
