package relay

import (
	"bytes"
	"fmt"
	"image"
	"image/png"

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
