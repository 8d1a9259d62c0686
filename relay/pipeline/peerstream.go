package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// Reasons a pass of a peer stream stops early.
var (
	errStalled = errors.New("pipeline: peer transport above high water")
	errStopped = errors.New("pipeline: peer stream closed")
)

// Sender is a peer's display channel (a pion *webrtc.DataChannel satisfies it). Send must not
// keep b after it returns (pion copies it).
type Sender interface {
	Send(b []byte) error
	BufferedAmount() uint64
}

// PeerStats counts what a peer stream sent.
type PeerStats struct {
	Frames          uint64 // FRAME messages sent
	Messages        uint64 // display messages sent, of every type
	Bytes           uint64 // bytes of those messages
	TilesSent       uint64 // tile records sent
	Stalls          uint64 // times the stream stopped because the transport was above HighWater
	SkippedVersions uint64 // tile versions the peer never received because newer ones replaced them
	Buffered        uint64 // bytes the transport holds for the peer now
}

// PeerStream sends the desktop to one peer from its own goroutine. Whenever the desktop changes
// or the transport drains, it sends the newest version of every tile the peer lacks, then a
// FRAME; it stops while the transport buffers more than HighWater bytes, so a slow peer holds
// bounded memory, never slows the others, and skips stale versions when it catches up.
type PeerStream struct {
	p    *Pipeline
	out  Sender
	log  zerolog.Logger
	wake chan struct{} // one slot: wake-ups coalesce
	stop chan struct{} // closed by Close
	done chan struct{} // closed when run returns

	closeOnce sync.Once

	// Owned by the run goroutine.
	scratch   *scratch // borrowed from the pipeline for the length of a pass
	view      view
	sized     bool     // SIZE of generation gen was sent
	gen       uint64   // the desktop generation the peer holds
	have      []uint64 // have[i] is the version of tile i the peer holds, 0 for none
	framed    bool     // a FRAME was sent for this generation
	lastFrame uint32   // the seq of the last FRAME sent
	stalled   bool
	msg       []byte // the TILES message being filled, in scratch
	pending   []sentTile
	busy      []int // tiles of this pass that another stream was encoding

	frames, messages, bytes, tilesSent, stalls, skipped atomic.Uint64
}

// sentTile is a tile record in the message being filled.
type sentTile struct {
	index   int
	version uint64
}

func newPeerStream(p *Pipeline, out Sender, id uint64) *PeerStream {
	s := &PeerStream{
		p:    p,
		out:  out,
		log:  p.log.With().Uint64("stream", id).Logger(),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
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

// Stats returns the stream's counters.
func (s *PeerStream) Stats() PeerStats {
	return PeerStats{
		Frames:          s.frames.Load(),
		Messages:        s.messages.Load(),
		Bytes:           s.bytes.Load(),
		TilesSent:       s.tilesSent.Load(),
		Stalls:          s.stalls.Load(),
		SkippedVersions: s.skipped.Load(),
		Buffered:        s.out.BufferedAmount(),
	}
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

// run sends passes until the stream is closed or a Send fails.
func (s *PeerStream) run() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		s.scratch = s.p.scratch.Get().(*scratch)
		s.msg = s.scratch.msg[:0]
		err := s.pass()
		s.scratch.msg = s.msg[:0]
		s.p.scratch.Put(s.scratch)
		s.scratch, s.msg = nil, nil
		switch {
		case err == nil, errors.Is(err, errStalled):
		case errors.Is(err, errResized):
			s.Wake()
		case errors.Is(err, errStopped):
			return
		default:
			s.log.Warn().Err(err).Msg("display stream ended")
			return
		}
	}
}

// pass sends the peer the newest version of every tile it lacks, then a FRAME with the seq seen
// at the start of the pass.
func (s *PeerStream) pass() error {
	if s.out.BufferedAmount() > s.p.cfg.HighWater {
		return s.stall()
	}
	v := &s.view
	if !s.p.view(v) {
		return nil
	}
	if !s.sized || s.gen != v.gen {
		if err := s.send(wire.EncodeSize(v.w, v.h)); err != nil {
			return err
		}
		s.sized, s.gen, s.framed = true, v.gen, false
		s.have = make([]uint64, len(v.tiles)) // the peer cleared its framebuffer
	}
	s.msg, s.pending, s.busy = wire.AppendTilesHeader(s.msg[:0]), s.pending[:0], s.busy[:0]
	for i := range v.tiles {
		if v.versions[i] > s.have[i] {
			if err := s.addTile(i, false); err != nil {
				return err
			}
		}
	}
	for _, i := range s.busy {
		if err := s.addTile(i, true); err != nil {
			return err
		}
	}
	if err := s.flush(); err != nil {
		return err
	}
	if s.framed && s.lastFrame == v.seq {
		return nil
	}
	if err := s.send(wire.EncodeFrame(v.seq)); err != nil {
		return err
	}
	s.framed, s.lastFrame = true, v.seq
	s.frames.Add(1)
	return nil
}

// addTile adds the newest encoding of tile i of the view to the message being filled, sending
// the message first if the tile does not fit. Unless wait is set, a tile that another stream
// is encoding is put aside in s.busy.
func (s *PeerStream) addTile(i int, wait bool) error {
	t := s.view.tiles[i]
	e, ok, err := t.encoded(s.p, s.view.versions[i], s.scratch.enc, wait)
	switch {
	case err != nil:
		return err
	case !ok:
		s.busy = append(s.busy, i)
		return nil
	case len(e.data) > maxTileData:
		return fmt.Errorf("%w: %d bytes for tile at %v", ErrTileTooLarge, len(e.data), t.rect.Min)
	}
	if len(s.msg)+wire.TileOverhead+len(e.data) > wire.MaxMessage {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.msg = wire.AppendTile(s.msg, wire.Tile{
		X: t.rect.Min.X, Y: t.rect.Min.Y, W: t.rect.Dx(), H: t.rect.Dy(),
		Format: e.format, Data: e.data,
	})
	s.pending = append(s.pending, sentTile{index: i, version: e.version})
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
		if had := s.have[t.index]; had > 0 {
			s.skipped.Add(t.version - had - 1)
		}
		s.have[t.index] = t.version
	}
	s.tilesSent.Add(uint64(len(s.pending)))
	s.msg, s.pending = wire.AppendTilesHeader(s.msg[:0]), s.pending[:0]
	return nil
}

// send sends one message unless the stream is closed or the transport is above high water.
func (s *PeerStream) send(b []byte) error {
	select {
	case <-s.stop:
		return errStopped
	default:
	}
	if s.out.BufferedAmount() > s.p.cfg.HighWater {
		return s.stall()
	}
	if err := s.out.Send(b); err != nil {
		return fmt.Errorf("send display message: %w", err)
	}
	s.stalled = false
	s.messages.Add(1)
	s.bytes.Add(uint64(len(b)))
	return nil
}

// stall counts the stream stopping at high water (once per episode) and returns errStalled.
func (s *PeerStream) stall() error {
	if !s.stalled {
		s.stalled = true
		s.stalls.Add(1)
	}
	return errStalled
}
