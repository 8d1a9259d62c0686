package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// Reasons a pass of a peer stream stops early.
var (
	errStalled = errors.New("pipeline: peer transport above high water")
	errStopped = errors.New("pipeline: peer stream closed")
)

// Sender is a peer's display channel (a pion *webrtc.DataChannel satisfies it). Send must not
// keep b after it returns (pion copies it). The stream sets the low-water threshold below its
// high-water mark; whoever owns the channel calls PeerStream.Wake when the buffered amount
// falls to it (pion's OnBufferedAmountLow).
type Sender interface {
	Send(b []byte) error
	BufferedAmount() uint64
	SetBufferedAmountLowThreshold(th uint64)
}

// RTTSender is a Sender whose transport also reports its smoothed round-trip time (0 for
// unknown); the stream then sizes its queue to cover one round trip as well.
type RTTSender interface {
	Sender
	RTT() time.Duration
}

// PeerStream sends the desktop to one peer from its own goroutine. Whenever the desktop changes
// or the transport drains, it sends the peer the newest version of each tile it lacks, oldest
// change first, and a FRAME each time the peer holds every change up to a point (a round). It
// stops while the transport buffers more than the peer's high-water mark, which follows the
// measured delivery rate of the peer's link, so a slow peer holds little memory and little
// queue, never slows the others, skips stale versions and, on a link that carries less than the
// desktop produces, gets photographic tiles at the lighter rendition (docs/PROTOCOL.md, 3.2).
type PeerStream struct {
	p      *Pipeline
	out    Sender
	rtt    RTTSender // out, if it reports round trips
	onLink func(Link)
	onEnd  func(error)
	log    zerolog.Logger
	wake   chan struct{} // one slot: wake-ups coalesce
	stop   chan struct{} // closed by Close
	done   chan struct{} // closed when run returns

	closeOnce sync.Once

	// Owned by the run goroutine.
	scratch   *scratch // borrowed from the pipeline for the length of a pass
	view      view
	sized     bool     // SIZE of generation gen was sent
	gen       uint64   // the desktop generation the peer holds
	have      []uint64 // have[i] is the version of tile i the peer holds, 0 for none
	light     []bool   // light[i]: the peer holds tile i at the lighter rendition
	queue     changes  // the tiles the peer lacks, oldest change first
	cursorVer uint64   // the version of the CURSOR message last sent, 0 for none
	copySeen  uint64   // the id of the last copy sent or left to tiles
	video     streamVideo
	framed    bool   // a FRAME was sent for this generation
	lastFrame uint32 // the seq of the last FRAME sent
	stalled   bool
	waiting   bool // the stream is waiting for the peer to apply what it holds (behind)
	// stopped says the last pass stopped at high water with something left to send; refining
	// that it sent full-quality copies of lighter tiles.
	stopped, refining bool
	sent              uint64
	hw                uint64
	maxMsg            int
	link              linkEstimator
	adapt             adapter
	timer             *time.Timer
	msg               []byte // the TILES message being filled, in scratch
	pending           []sentTile
	busy              []int // tiles of this pass that another stream was encoding

	frames, messages, bytes, tilesSent, lighterTiles, refined, stalls, skipped, behindCount, copiesSent atomic.Uint64
	videoSent, videoSkipped, videoLost                                                                  atomic.Uint64
	caps                                                                                                *atomic.Uint32            // wire.Cap bits the peer announced (PeerOptions.Caps)
	stats                                                                                               atomic.Pointer[PeerStats] // the link part, set by run
	consumed                                                                                            atomic.Uint64             // the peer's last report, | reported
	refresh                                                                                             atomic.Bool               // Refresh was called: send the whole desktop again
}

// sentTile is a tile record in the message being filled.
type sentTile struct {
	index   int
	version uint64
	light   bool
}

func newPeerStream(p *Pipeline, out Sender, opts PeerOptions, id uint64) *PeerStream {
	s := &PeerStream{
		p:      p,
		out:    out,
		onLink: opts.OnLink,
		onEnd:  opts.OnEnd,
		caps:   opts.Caps,
		log:    p.log.With().Uint64("stream", id).Logger(),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		timer:  time.NewTimer(time.Hour),
	}
	s.timer.Stop()
	s.rtt, _ = out.(RTTSender)
	s.setHighWater(s.link.highWater(time.Now(), p.cfg.QueueDelay, p.cfg.HighWater))
	s.stats.Store(&PeerStats{HighWater: s.hw})
	s.wake <- struct{}{} // the first pass sends the whole desktop, if there is one yet
	return s
}

// Wake asks the stream to send what its peer lacks; call it when the transport drained
// (OnBufferedAmountLow). It never blocks.
func (s *PeerStream) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Refresh makes the stream send the whole desktop again, as to a peer that just joined: SIZE,
// the cursor, every tile at its newest version, FRAME. One asked for before the FRAME of the
// previous whole desktop was sent is ignored: a peer whose link takes long to carry the
// desktop would otherwise never get a whole one. It never blocks.
func (s *PeerStream) Refresh() {
	s.refresh.Store(true)
	s.Wake()
}

// Close stops the stream, waits for its goroutine and removes it from the pipeline. It is safe
// to call more than once.
func (s *PeerStream) Close() {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.p.removeStream(s)
	})
}

// run sends passes until the stream is closed or a Send (or an encode) fails; then the stream
// leaves the pipeline and tells OnEnd.
func (s *PeerStream) run() {
	defer close(s.done)
	defer s.timer.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-s.timer.C:
		}
		s.scratch = s.p.scratch.Get().(*scratch)
		s.msg = s.scratch.msg[:0]
		err := s.pass(time.Now())
		s.view.video, s.view.vframes = nil, nil // a stalled stream must not pin a frame log
		s.scratch.msg = s.msg[:0]
		s.p.scratch.Put(s.scratch)
		s.scratch, s.msg = nil, nil
		switch {
		case err == nil, errors.Is(err, errStalled), errors.Is(err, errBehind):
		case errors.Is(err, errResized):
			s.Wake()
		case errors.Is(err, errStopped):
			return
		default:
			s.log.Warn().Err(err).Msg("display stream ended")
			s.p.removeStream(s)
			if s.onEnd != nil {
				s.onEnd(err)
			}
			return
		}
	}
}

// pass measures the link, then sends the peer what it lacks: SIZE after a resize, the cursor,
// the queued changes oldest first with a FRAME at the end of each round, and, once nothing
// changed is waiting, full-quality copies of the tiles it holds at the lighter rendition.
func (s *PeerStream) pass(now time.Time) (err error) {
	s.measure(now)
	s.refining = false
	defer func() { s.adjust(now, errors.Is(err, errStalled)) }()
	v := &s.view
	if !s.p.view(v) {
		return nil
	}
	if s.refresh.Swap(false) && s.framed {
		s.sized, s.cursorVer = false, 0
	}
	if !s.sized || s.gen != v.gen {
		s.reset(len(v.tiles))
		if err := s.send(wire.EncodeSize(v.w, v.h)); err != nil {
			return err
		}
		s.sized, s.gen = true, v.gen
	}
	if v.cursorVer != s.cursorVer {
		if err := s.send(v.cursor); err != nil {
			return err
		}
		s.cursorVer = v.cursorVer
	}
	if err := s.sendCopies(); err != nil {
		return err
	}
	video, err := s.sendVideo()
	if err != nil {
		return err
	}
	var skip []bool
	if s.video.in != nil {
		skip = s.video.in.mask
	}
	s.queue.notice(v.versions, s.have, v.quiet, skip, now)
	s.queue.startRound(v.seq)
	err = s.sendQueued()
	done, seq, at := s.queue.endRound()
	if done {
		s.adapt.roundDone(now.Sub(at))
	}
	switch {
	case s.queue.len() == 0 && (!s.framed || s.lastFrame != v.seq || video):
		seq, done = v.seq, true // the peer holds everything up to now
	case s.queue.len() == 0:
		done = false
	}
	if done {
		if ferr := s.sendFrame(seq); ferr != nil {
			return ferr
		}
	}
	if err != nil || s.adapt.lighter {
		return err
	}
	refined := s.tilesSent.Load()
	if err := s.refine(); err != nil || s.tilesSent.Load() == refined || s.queue.len() > 0 {
		return err
	}
	// A peer that presents on FRAME (the page) shows the full-quality copies only then.
	return s.sendFrame(v.seq)
}

// reset forgets the tiles the peer holds: it is about to receive a SIZE that clears its
// framebuffer (and keeps its cursor).
func (s *PeerStream) reset(tiles int) {
	s.have, s.light = make([]uint64, tiles), make([]bool, tiles)
	s.queue.reset(tiles)
	s.framed = false
	s.video = streamVideo{}
}

// sendQueued sends the queued changes in order, at their newest versions, until the queue is
// empty or the transport above high water; it forgets the ones sent.
func (s *PeerStream) sendQueued() error {
	if s.queue.len() == 0 {
		return nil
	}
	if s.out.BufferedAmount() > s.hw {
		return s.stall()
	}
	if s.behind() {
		return errBehind
	}
	r := full
	if s.adapt.lighter {
		r = lighter
	}
	s.msg, s.pending, s.busy = wire.AppendTilesHeader(s.msg[:0]), s.pending[:0], s.busy[:0]
	err := s.queue.each(func(i int) error { return s.addTile(i, r, false) })
	for _, i := range s.busy {
		if err != nil {
			break
		}
		err = s.addTile(i, r, true)
	}
	if err == nil {
		err = s.flush()
	}
	s.queue.forgetSent(s.view.versions, s.have)
	return err
}

// refine sends full-quality copies of the tiles the peer holds at the lighter rendition, while
// the transport takes them and no change is waiting.
func (s *PeerStream) refine() error {
	s.msg, s.pending, s.busy = wire.AppendTilesHeader(s.msg[:0]), s.pending[:0], s.busy[:0]
	for i, l := range s.light {
		if !l || s.have[i] != s.view.versions[i] {
			continue
		}
		if s.out.BufferedAmount()+uint64(len(s.msg)) > s.hw || s.behind() {
			break
		}
		if err := s.addTile(i, full, true); err != nil {
			return err
		}
		s.refining = true
	}
	return s.flush()
}

// addTile adds the newest encoding of rendition r of tile i of the view to the message being
// filled, sending the message first if the tile does not fit. Unless wait is set, a tile that
// another stream is encoding is put aside in s.busy.
func (s *PeerStream) addTile(i int, r rendition, wait bool) error {
	t := s.view.tiles[i]
	e, ok, err := t.encoded(s.p, s.view.versions[i], r, s.scratch.enc, wait)
	switch {
	case err != nil:
		return err
	case !ok:
		s.busy = append(s.busy, i)
		return nil
	case len(e.data) > maxTileData:
		return fmt.Errorf("%w: %d bytes for tile at %v", ErrTileTooLarge, len(e.data), t.rect.Min)
	}
	if len(s.pending) > 0 && len(s.msg)+wire.TileOverhead+len(e.data) > s.maxMsg {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.msg = wire.AppendTile(s.msg, wire.Tile{
		X: t.rect.Min.X, Y: t.rect.Min.Y, W: t.rect.Dx(), H: t.rect.Dy(),
		Format: e.format, Data: e.data,
	})
	s.pending = append(s.pending, sentTile{index: i, version: e.version, light: r == lighter && !e.exact})
	return nil
}

// flush sends the TILES message being filled, if it holds a tile, and records what the peer
// now has.
func (s *PeerStream) flush() error {
	if len(s.pending) == 0 {
		return nil
	}
	if err := s.send(s.msg); err != nil {
		return err
	}
	for _, t := range s.pending {
		had := s.have[t.index]
		switch {
		case had == t.version:
			s.refined.Add(1)
		case had > 0:
			s.skipped.Add(t.version - had - 1)
			s.p.sent.skipped.Add(t.version - had - 1)
		}
		if t.light {
			s.lighterTiles.Add(1)
		}
		s.have[t.index], s.light[t.index] = t.version, t.light
	}
	s.tilesSent.Add(uint64(len(s.pending)))
	s.msg, s.pending = wire.AppendTilesHeader(s.msg[:0]), s.pending[:0]
	return nil
}

// sendFrame sends a FRAME for seq. Five bytes, it is sent even above high water: it ends the
// round the peer holds.
func (s *PeerStream) sendFrame(seq uint32) error {
	if err := s.write(wire.EncodeFrame(seq)); err != nil {
		return err
	}
	s.framed, s.lastFrame = true, seq
	s.frames.Add(1)
	return nil
}

// send sends one message unless the stream is closed, the transport is above high water or
// the peer behind.
func (s *PeerStream) send(b []byte) error {
	if s.out.BufferedAmount() > s.hw {
		return s.stall()
	}
	if s.behind() {
		return errBehind
	}
	if err := s.write(b); err != nil {
		return err
	}
	s.stalled, s.waiting = false, false
	return nil
}

// write sends one message unless the stream is closed.
func (s *PeerStream) write(b []byte) error {
	select {
	case <-s.stop:
		return errStopped
	default:
	}
	if err := s.out.Send(b); err != nil {
		return fmt.Errorf("send display message: %w", err)
	}
	s.sent += uint64(len(b))
	s.messages.Add(1)
	s.bytes.Add(uint64(len(b)))
	s.p.sent.bytes.Add(uint64(len(b)))
	return nil
}

// stall counts the stream stopping at high water (once per episode) and returns errStalled.
func (s *PeerStream) stall() error {
	if !s.stalled {
		s.stalled = true
		s.stalls.Add(1)
		s.p.sent.stalls.Add(1)
	}
	return errStalled
}
