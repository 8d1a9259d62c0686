// Package videoplay turns VIDEO display messages (docs/PROTOCOL.md, 3.2) back into pixels: it
// gathers each frame's parts and decodes them with libvpx (internal/cvpx) into the
// receiver's framebuffer. The Go client and the relay's tests use it.
package videoplay

import (
	"errors"
	"fmt"
	"image"

	"peerdesk/internal/cvpx"
	"peerdesk/relay/wire"
)

// Errors of Apply; the message is skipped, and the player waits for what it needs next.
var (
	// ErrNoKeyframe reports a frame of a region whose keyframe the player does not hold.
	ErrNoKeyframe = errors.New("videoplay: video frame without its keyframe")
	// ErrPartOrder reports a part that is not the one expected: the frame is dropped.
	ErrPartOrder = errors.New("videoplay: video part out of order")
)

// Player decodes the video of one region at a time. It is not safe for concurrent use.
type Player struct {
	dec    *cvpx.Decoder
	rect   image.Rectangle // the region dec decodes
	synced bool            // dec holds the references the next frame needs
	frame  uint32          // the frame being gathered
	next   int             // its next part, or -1 for none
	parts  int
	buf    []byte
}

// Apply takes one VIDEO message. When it completes a frame, Apply decodes it into fb, which
// must hold the region (wire.DecodeDisplay checks that), and reports true.
func (p *Player) Apply(v wire.Video, fb *image.RGBA) (bool, error) {
	r := image.Rect(v.X, v.Y, v.X+v.W, v.Y+v.H)
	if !r.In(fb.Rect) {
		return false, fmt.Errorf("videoplay: region %v outside %v", r, fb.Rect)
	}
	if v.Part == 0 {
		if err := p.start(v, r); err != nil {
			return false, err
		}
	} else if p.next != v.Part || p.frame != v.Frame || p.parts != v.Parts {
		p.next = -1
		return false, fmt.Errorf("%w: part %d of %d of frame %d", ErrPartOrder, v.Part, v.Parts, v.Frame)
	} else {
		p.buf = append(p.buf, v.Data...)
		p.next++
	}
	if p.next < p.parts {
		return false, nil
	}
	p.next = -1
	off := fb.PixOffset(r.Min.X, r.Min.Y)
	if err := p.dec.Decode(p.buf, fb.Pix[off:], r.Dx(), r.Dy(), fb.Stride); err != nil {
		p.synced = false
		return false, err
	}
	p.synced = true
	return true, nil
}

// start begins gathering a frame; a keyframe of another region starts a new decoder.
func (p *Player) start(v wire.Video, r image.Rectangle) error {
	if v.Key && (p.dec == nil || r != p.rect) {
		p.Close()
		dec, err := cvpx.NewDecoder()
		if err != nil {
			return err
		}
		p.dec, p.rect = dec, r
	}
	if !v.Key && (!p.synced || r != p.rect) {
		p.next = -1
		return fmt.Errorf("%w: frame %d of %v", ErrNoKeyframe, v.Frame, r)
	}
	p.frame, p.parts, p.next = v.Frame, v.Parts, 1
	p.buf = append(p.buf[:0], v.Data...)
	return nil
}

// Close forgets the video and frees the decoder; the player can be used again.
func (p *Player) Close() {
	if p.dec != nil {
		p.dec.Close()
	}
	*p = Player{buf: p.buf[:0], next: -1}
}
