package client

import (
	"image"

	"github.com/rs/zerolog"
)

// Display applies display messages (docs/PROTOCOL.md, 3.2) to a framebuffer exactly as a
// Session does, outside any session: to replay a recording's display records. Not safe for
// concurrent use with Apply.
type Display struct {
	fb *framebuffer
}

// NewDisplay returns an empty display (no image until the first SIZE); malformed messages are
// logged to log, sampled, and skipped.
func NewDisplay(log zerolog.Logger) *Display {
	return &Display{fb: newFramebuffer(sampledLogger(log), false, false)}
}

// Apply applies one display message.
func (d *Display) Apply(msg []byte) { d.fb.apply(msg) }

// Image returns a copy of the framebuffer, nil before the first SIZE.
func (d *Display) Image() *image.RGBA {
	img, _, _ := d.fb.snapshot(true)
	return img
}

// Stats returns the display counters: messages, bytes, frames, decode errors.
func (d *Display) Stats() Stats { return d.fb.counters() }
