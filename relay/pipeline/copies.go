package pipeline

import (
	"image"
	"image/draw"
	"time"

	"peerdesk/relay/wire"
)

// Copies: a source that knows a change moved pixels (VNC's CopyRect: a scroll, a window
// dragged) says so with Copy, and every peer that holds the source pixels gets a 13-byte COPY
// instead of the tiles of the destination. A peer that does not hold them exactly (it joined
// later, skipped versions, or never announced wire.CapCopy) gets those tiles as usual: the
// copy's destination tiles are new versions like any other change.

const (
	// maxPendingCopies bounds the copies waiting for their update; more are dropped (their
	// destination is damage all the same).
	maxPendingCopies = 64
	// maxCopyLog is how many recent copies the pipeline keeps for its streams; a stream that
	// fell further behind sends tiles instead.
	maxCopyLog = 64
)

// pendingCopy is a copy the source reported for its next update.
type pendingCopy struct {
	src image.Rectangle
	dst image.Point
}

// tileVersion is one version of one tile of a generation's tile set.
type tileVersion struct {
	index   int
	version uint64
}

// copyOp is a copy applied to the pipeline's framebuffer: a stream whose peer holds every tile
// of pre at exactly its version may send msg, after which the peer holds every tile of post.
type copyOp struct {
	id   uint64 // increasing
	gen  uint64
	msg  []byte        // the COPY message
	pre  []tileVersion // the tiles under the source and the partly covered destination tiles, before
	post []tileVersion // the destination tiles, after
}

// holds reports whether a peer holding the tile versions have holds the copy's sources.
func (op *copyOp) holds(have []uint64) bool {
	for _, tv := range op.pre {
		if tv.index >= len(have) || have[tv.index] != tv.version {
			return false
		}
	}
	return true
}

// Copy tells the pipeline that the source's next Update moved the pixels of src to dst (the
// top-left corner of a rectangle of src's size) before the rest of its damage, as VNC's
// CopyRect does. It does not wake the streams: the Update that follows does. A copy outside
// the framebuffer is ignored.
func (p *Pipeline) Copy(src image.Rectangle, dst image.Point) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) < maxPendingCopies && !src.Empty() {
		p.pending = append(p.pending, pendingCopy{src: src, dst: dst})
	}
}

// applyCopies applies the pending copies to the framebuffer, recording each for the streams,
// and returns their destinations, which the update's frame must confirm; p.mu is held.
func (p *Pipeline) applyCopies(now time.Time) []image.Rectangle {
	var dsts []image.Rectangle
	for _, c := range p.pending {
		dst := image.Rectangle{Min: c.dst, Max: c.dst.Add(c.src.Size())}
		if !c.src.In(p.fb.Rect) || !dst.In(p.fb.Rect) || dst == c.src {
			continue
		}
		op := &copyOp{gen: p.gen, msg: wire.EncodeCopy(wire.Copy{
			SrcX: c.src.Min.X, SrcY: c.src.Min.Y, W: c.src.Dx(), H: c.src.Dy(), DstX: dst.Min.X, DstY: dst.Min.Y,
		})}
		for _, t := range p.damaged([]image.Rectangle{c.src}) {
			op.pre = append(op.pre, tileVersion{p.tileIndex(t), t.version})
		}
		dstTiles := p.damaged([]image.Rectangle{dst})
		for _, t := range dstTiles {
			if !t.rect.In(dst) {
				op.pre = append(op.pre, tileVersion{p.tileIndex(t), t.version})
			}
		}
		draw.Draw(p.fb, dst, p.fb, c.src.Min, draw.Src) // handles overlapping rectangles
		for _, t := range dstTiles {
			p.bump(t, now)
			p.noteVideoChange(t, true)
			op.post = append(op.post, tileVersion{p.tileIndex(t), t.version})
		}
		p.copyID++
		op.id = p.copyID
		if len(p.copies) == maxCopyLog {
			p.copies = append(p.copies[:0], p.copies[1:]...)
		}
		p.copies = append(p.copies, op)
		dsts = append(dsts, dst)
	}
	p.pending = p.pending[:0]
	return dsts
}

// tileIndex returns the index of t in p.tiles; p.mu is held.
func (p *Pipeline) tileIndex(t *tile) int {
	ts := p.cfg.TileSize
	return t.rect.Min.Y/ts*p.cols + t.rect.Min.X/ts
}

// sendCopies sends the peer the copies recorded since the last pass whose sources it holds,
// in order, and marks their destinations held; the others it leaves to tiles. A copy it could
// not send for the transport's sake waits for the next pass.
func (s *PeerStream) sendCopies() error {
	canCopy := s.caps != nil && s.caps.Load()&wire.CapCopy != 0
	sent := false
	for _, op := range s.view.copies {
		if op.id <= s.copySeen {
			continue
		}
		if canCopy && op.gen == s.gen && op.holds(s.have) {
			if err := s.send(op.msg); err != nil {
				if sent {
					s.queue.forgetSent(s.view.versions, s.have)
				}
				return err
			}
			light := false
			for _, tv := range op.pre {
				light = light || s.light[tv.index]
			}
			for _, tv := range op.post {
				s.have[tv.index], s.light[tv.index] = tv.version, light
			}
			s.copiesSent.Add(1)
			sent = true
		}
		s.copySeen = op.id
	}
	if sent {
		s.queue.forgetSent(s.view.versions, s.have)
	}
	return nil
}
