// Package pipeline is the relay agent's encode-once fan-out: it keeps the desktop as versioned
// tiles, encodes each tile version at most once, and sends every peer, from a stream of its own,
// the newest version of each tile it lacks (docs/PROTOCOL.md, 3.2). It knows nothing of WebRTC:
// desktop updates come in through Update, encoded messages go out through each peer's Sender.
package pipeline

import (
	"bytes"
	"image"
	"image/png"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/internal/cimg"
	"peerdesk/relay/wire"
)

// Stats counts a pipeline's work since it was created.
type Stats struct {
	Updates      uint64 // desktop updates accepted
	TileVersions uint64 // tile versions created (a tile's first content and every change)
	Encodes      uint64 // tile versions encoded; at most one encode per version, whatever the peers
	// LighterEncodes counts tile versions encoded as their lighter rendition, for peers whose
	// link is the limit: at most one per version, whatever the peers.
	LighterEncodes uint64
	EncodedBytes   uint64 // bytes those encodes produced
	VideoFrames    uint64 // video frames encoded, once whatever the peers
	VideoBytes     uint64 // bytes of those frames
	VideoRegions   uint64 // video regions started
	VideoKeyframes uint64 // keyframes among VideoFrames
	Seq            uint32 // the frame number, bumped by every update that changed a pixel or the size
	Width          int    // the desktop size, 0 before the first update
	Height         int
	Peers          int // peer streams added and not yet closed
	// SentBytes, Stalls, Behind and SkippedVersions add up PeerStats' counters of every stream
	// since the pipeline started, closed ones included.
	SentBytes, Stalls, Behind, SkippedVersions uint64
}

// sentTotals are the counters behind Stats' sums over every stream.
type sentTotals struct {
	bytes, stalls, behind, skipped atomic.Uint64
}

// Pipeline holds the desktop as versioned tiles and fans it out to peer streams: each tile
// version is encoded at most once, lazily, by the first stream that needs it, and the same bytes
// go to every peer. It is safe for concurrent use.
type Pipeline struct {
	cfg Config
	log zerolog.Logger
	png *png.Encoder
	// scratch lends streams their message buffer and tile encoder for one pass, so an idle
	// peer holds neither.
	scratch sync.Pool

	mu         sync.RWMutex
	fb         *image.RGBA // the desktop, always opaque; nil before the first update
	gen        uint64      // bumped on every resize
	cols, rows int
	tiles      []*tile // replaced, never modified in place, on a resize
	seq        uint32
	cursor     []byte        // the current CURSOR message, nil before the first
	cursorVer  uint64        // bumped by every new cursor
	pending    []pendingCopy // reported by Copy for the next update
	scroll     scrollDetector
	copies     []*copyOp // the latest copies applied, oldest first
	copyID     uint64    // the id of the last copy applied
	// The video region (video.go): nil for none; videoDirty says its tiles changed since its
	// encoder was last woken.
	video        *videoRegion
	videoID      uint64
	videoDirty   bool
	videoChecked time.Time
	videoQuiet   int
	videoWG      sync.WaitGroup // the regions' encoders
	streams      map[*PeerStream]struct{}
	closed       bool
	updates      uint64
	versions     uint64
	nextStream   uint64

	// demandMu serialises the calls of cfg.OnDemand; watched is what it was last told.
	demandMu sync.Mutex
	watched  bool

	encodes      [renditions]atomic.Uint64
	encodedBytes atomic.Uint64
	sent         sentTotals // what every stream sent, closed ones too
	videoFrames  atomic.Uint64
	videoBytes   atomic.Uint64
	videoKeys    atomic.Uint64
}

// New returns an empty pipeline; feed it with Update.
func New(cfg Config) (*Pipeline, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{
		cfg:     cfg,
		log:     cfg.Logger.With().Str("component", "pipeline").Logger(),
		png:     &png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &pngBuffers{}},
		streams: make(map[*PeerStream]struct{}),
	}
	jpg, err := cimg.NewJPEGEncoder() // a broken libjpeg-turbo fails New, not a stream
	if err != nil {
		return nil, err
	}
	jpg.Close()
	p.scratch.New = func() any {
		return &scratch{msg: make([]byte, 0, wire.MaxMessage), enc: newTileEncoder(p.png, cfg)}
	}
	return p, nil
}

// scratch is the working memory of one stream's pass.
type scratch struct {
	msg []byte
	enc *tileEncoder
}

// Update takes a new state of the desktop: frame is the whole framebuffer, damage the rectangles
// that may have changed (ignored on the first update and on a resize, which change everything).
// It copies what it needs and wakes the peer streams; it never waits for them. It has the
// signature of a Source's update callback. A frame without pixels, larger than
// wire.MaxDimension or not at 0,0 is dropped and logged.
func (p *Pipeline) Update(frame *image.RGBA, damage []image.Rectangle) {
	if err := checkFrame(frame); err != nil {
		p.log.Warn().Err(err).Msg("dropping desktop update")
		return
	}
	w, h := frame.Rect.Dx(), frame.Rect.Dy()
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.updates++
	var changed bool
	if p.fb == nil || p.fb.Rect.Dx() != w || p.fb.Rect.Dy() != h {
		p.endVideo()
		p.resize(frame, now)
		changed = true
		p.pending = p.pending[:0]
	} else {
		if len(p.pending) == 0 { // the source reports no copies: look for scrolls
			p.pending = append(p.pending, p.detectScrolls(frame, damage)...)
		}
		if dsts := p.applyCopies(now); len(dsts) > 0 {
			changed = true
			damage = append(dsts, damage...)
		}
		for _, t := range p.damaged(damage) {
			if p.copyTile(frame, t.rect) {
				p.bump(t, now)
				p.noteVideoChange(t, false)
				changed = true
			}
		}
	}
	p.checkVideo(now)
	if !changed {
		return
	}
	p.seq++
	for s := range p.streams {
		s.Wake()
	}
}

// bump makes the tile's content a new version, changed at now; p.mu is held. A second change
// in the same update (a copy, then the frame) keeps the first one's quiet flag.
func (p *Pipeline) bump(t *tile, now time.Time) {
	t.version++
	if !t.changed.Equal(now) {
		t.quiet, t.changed = now.Sub(t.changed) >= quietSpan, now
	}
	p.versions++
}

// Size returns the desktop size, 0×0 before the first update.
func (p *Pipeline) Size() (w, h int) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.fb == nil {
		return 0, 0
	}
	return p.fb.Rect.Dx(), p.fb.Rect.Dy()
}

// SetCursor makes msg, a CURSOR display message, the desktop's pointer shape: every peer stream
// sends it after its SIZE, ahead of tiles, and a stream that cannot send it at once sends only
// the newest shape later. msg is kept and never modified.
func (p *Pipeline) SetCursor(msg []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if bytes.Equal(msg, p.cursor) {
		return
	}
	p.cursor = msg
	p.cursorVer++
	for s := range p.streams {
		s.Wake()
	}
}

// Snapshot returns a copy of the pipeline's framebuffer, or nil before the first update.
func (p *Pipeline) Snapshot() *image.RGBA {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.fb == nil {
		return nil
	}
	img := image.NewRGBA(p.fb.Rect)
	copy(img.Pix, p.fb.Pix)
	return img
}

// view is what a peer stream reads of the pipeline at the start of a pass.
type view struct {
	gen       uint64
	w, h      int
	seq       uint32
	tiles     []*tile
	versions  []uint64  // versions[i] is the version of tiles[i]
	quiet     []bool    // quiet[i]: that version is tiles[i]'s first change in quietSpan
	cursor    []byte    // the current CURSOR message
	cursorVer uint64    // its version, 0 for none yet
	copies    []*copyOp // the latest copies, oldest first
	video     *videoRegion
	vframes   []*videoFrame // video's frames since its last keyframe
}

// view fills v with the pipeline's current state, reusing v's slices, and reports false before
// the first update.
func (p *Pipeline) view(v *view) bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.fb == nil {
		return false
	}
	v.gen, v.seq, v.tiles, v.cursor, v.cursorVer = p.gen, p.seq, p.tiles, p.cursor, p.cursorVer
	v.w, v.h = p.fb.Rect.Dx(), p.fb.Rect.Dy()
	v.copies = append(v.copies[:0], p.copies...)
	v.video, v.vframes = p.video, nil
	if p.video != nil {
		v.vframes = p.video.frames
	}
	v.versions, v.quiet = v.versions[:0], v.quiet[:0]
	for _, t := range p.tiles {
		v.versions, v.quiet = append(v.versions, t.version), append(v.quiet, t.quiet)
	}
	return true
}

// PeerOptions are a peer stream's optional knobs.
type PeerOptions struct {
	// OnLink, if set, is called from the stream's goroutine whenever what the stream tells of
	// its peer's link changes (Link.Limited or Link.Lighter), and every few seconds while the
	// link is the limit, with a fresh rate. It must not block.
	OnLink func(Link)
	// OnEnd, if set, is called from the stream's goroutine when the stream ends on its own,
	// because a Send or an encode failed: the peer's display is frozen from then on, and the
	// stream has left the pipeline (Close is still safe). It must not block.
	OnEnd func(error)
	// Caps, if set, holds the display features the peer announced (wire.Cap bits, from its
	// CAPS message), read at every pass: nil or 0 means none, so neither COPY nor VIDEO
	// messages are sent.
	// Whoever sets it wakes the stream.
	Caps *atomic.Uint32
}

// AddPeer starts a peer stream that sends the desktop to out: SIZE, every tile, FRAME, then the
// changes. The caller closes the stream (or the pipeline). On a closed pipeline it returns a
// stream that is already stopped.
func (p *Pipeline) AddPeer(out Sender, opts PeerOptions) *PeerStream {
	defer p.demand()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nextStream++
	s := newPeerStream(p, out, opts, p.nextStream)
	if p.closed {
		close(s.done) // never started: Close only closes stop
		return s
	}
	p.streams[s] = struct{}{}
	go s.run()
	return s
}

// removeStream forgets a closed stream.
func (p *Pipeline) removeStream(s *PeerStream) {
	defer p.demand()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.streams, s)
}

// demand tells cfg.OnDemand whether a stream is open, if that changed since it was last told.
// It reads the count under demandMu, so concurrent changes end with the right last word.
func (p *Pipeline) demand() {
	if p.cfg.OnDemand == nil {
		return
	}
	p.demandMu.Lock()
	defer p.demandMu.Unlock()
	p.mu.RLock()
	watched := len(p.streams) > 0
	p.mu.RUnlock()
	if watched != p.watched {
		p.watched = watched
		p.cfg.OnDemand(watched)
	}
}

// Stats returns the pipeline's counters.
func (p *Pipeline) Stats() Stats {
	p.mu.RLock()
	defer p.mu.RUnlock()
	st := Stats{
		Updates:      p.updates,
		TileVersions: p.versions,
		Encodes:      p.encodes[full].Load(),
		EncodedBytes: p.encodedBytes.Load(),

		LighterEncodes: p.encodes[lighter].Load(),
		VideoFrames:    p.videoFrames.Load(),
		VideoBytes:     p.videoBytes.Load(),
		VideoRegions:   p.videoID,
		VideoKeyframes: p.videoKeys.Load(),
		Seq:            p.seq,
		Peers:          len(p.streams),

		SentBytes:       p.sent.bytes.Load(),
		Stalls:          p.sent.stalls.Load(),
		Behind:          p.sent.behind.Load(),
		SkippedVersions: p.sent.skipped.Load(),
	}
	if p.fb != nil {
		st.Width, st.Height = p.fb.Rect.Dx(), p.fb.Rect.Dy()
	}
	return st
}

// PeerStats returns the counters of every current peer stream.
func (p *Pipeline) PeerStats() []PeerStats {
	p.mu.RLock()
	streams := make([]*PeerStream, 0, len(p.streams))
	for s := range p.streams {
		streams = append(streams, s)
	}
	p.mu.RUnlock()
	st := make([]PeerStats, len(streams))
	for i, s := range streams {
		st[i] = s.Stats()
	}
	return st
}

// Close stops every peer stream and waits for them; later AddPeer calls return stopped
// streams. It is safe to call more than once.
func (p *Pipeline) Close() {
	p.mu.Lock()
	p.closed = true
	p.endVideo()
	streams := make([]*PeerStream, 0, len(p.streams))
	for s := range p.streams {
		streams = append(streams, s)
	}
	p.mu.Unlock()
	for _, s := range streams {
		s.Close()
	}
	p.videoWG.Wait()
}
