package relay

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"sync"

	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
)

// encodeCursor returns the CURSOR display message of a pointer shape with its hotspot (relative
// to shape.Rect.Min, moved inside the shape if a source put it outside); a nil or empty shape
// means no visible pointer. It fails for a shape larger than wire.MaxCursorSize or whose PNG
// does not fit one message.
func encodeCursor(shape *image.NRGBA, hotspot image.Point) ([]byte, error) {
	if shape == nil || shape.Rect.Empty() {
		return wire.EncodeCursor(wire.Cursor{}), nil
	}
	w, h := shape.Rect.Dx(), shape.Rect.Dy()
	if w > wire.MaxCursorSize || h > wire.MaxCursorSize {
		return nil, fmt.Errorf("cursor of %dx%d exceeds %d pixels a side", w, h, wire.MaxCursorSize)
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&buf, shape); err != nil {
		return nil, fmt.Errorf("encode cursor: %w", err)
	}
	if buf.Len() > wire.MaxCursorPNG {
		return nil, fmt.Errorf("cursor PNG of %d bytes exceeds %d", buf.Len(), wire.MaxCursorPNG)
	}
	return wire.EncodeCursor(wire.Cursor{
		HotX: min(max(hotspot.X, 0), w-1),
		HotY: min(max(hotspot.Y, 0), h-1),
		W:    w,
		H:    h,
		PNG:  buf.Bytes(),
	}), nil
}

// displaySender is a peer's display channel as its pipeline stream sees it, with the cursor
// shape sent alongside: once the stream's first SIZE went out, then at every change. A cursor
// change finding the transport above high water waits for it to drain (flush), so that a
// peer that does not read holds at most one pending cursor.
type displaySender struct {
	out       pipeline.Sender
	highWater uint64

	mu      sync.Mutex // serialises sends: SIZE first, cursors in order
	sized   bool       // a SIZE went out
	cursor  []byte     // the current CURSOR message (shared, never modified), nil for none yet
	pending bool       // cursor is not sent yet
}

func newDisplaySender(out pipeline.Sender, highWater uint64, cursor []byte) *displaySender {
	return &displaySender{out: out, highWater: highWater, cursor: cursor, pending: cursor != nil}
}

// Send implements pipeline.Sender for the pipeline's stream.
func (d *displaySender) Send(b []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.out.Send(b); err != nil {
		return err
	}
	if len(b) > 0 && b[0] == wire.MsgSize {
		d.sized = true
	}
	return d.flushLocked()
}

// BufferedAmount implements pipeline.Sender.
func (d *displaySender) BufferedAmount() uint64 { return d.out.BufferedAmount() }

// setCursor makes msg the peer's cursor and sends it if the peer can take it now.
func (d *displaySender) setCursor(msg []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cursor, d.pending = msg, true
	return d.flushLocked()
}

// flush sends a pending cursor if the transport has drained; call it when it has.
func (d *displaySender) flush() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.flushLocked()
}

func (d *displaySender) flushLocked() error {
	if !d.pending || !d.sized || d.out.BufferedAmount() > d.highWater {
		return nil
	}
	if err := d.out.Send(d.cursor); err != nil {
		return fmt.Errorf("send cursor: %w", err)
	}
	d.pending = false
	return nil
}
