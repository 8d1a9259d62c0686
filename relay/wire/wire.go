// Package wire holds the data-channel messages that relay agents and peers exchange
// (docs/PROTOCOL.md, section 3): types, encoders and decoders, and nothing that runs.
package wire

import (
	"encoding/binary"
	"fmt"
)

// Data channel labels and their negotiated ids.
const (
	ControlLabel = "control"
	DisplayLabel = "display"
	InputLabel   = "input"

	ControlID uint16 = 0
	DisplayID uint16 = 1
	InputID   uint16 = 2
)

// MaxMessage is the largest data-channel message either side sends or accepts.
const MaxMessage = 64 * 1024

// MaxDimension bounds a desktop's width and height.
const MaxDimension = 8192

// Display message types.
const (
	MsgSize    byte = 0x01
	MsgTiles   byte = 0x02
	MsgFrame   byte = 0x03
	MsgCursor  byte = 0x04
	MsgCopy    byte = 0x05
	tileHead        = 13 // x, y, w, h (2 each), format (1), length (4)
	copyLen         = 13 // type, source x, y, w, h, destination x, y (2 each)
	tilesHead       = 3  // type, count
	cursorHead      = 9  // type, hotspot x, y, w, h (2 each)
)

// MaxCursorSize bounds a cursor shape's width and height.
const MaxCursorSize = 128

// Format says how a tile's image bytes are encoded.
type Format uint8

// Tile formats.
const (
	FormatPNG  Format = 1
	FormatJPEG Format = 2
	// FormatFill is a rectangle of one colour: its data is the colour's red, green and blue
	// bytes (FillSize of them).
	FormatFill Format = 3
	// FormatWebP is a lossless WebP.
	FormatWebP Format = 4
)

// FillSize is the length of a FormatFill tile's data.
const FillSize = 3

// Tile is one encoded rectangle of the desktop.
type Tile struct {
	X, Y, W, H int
	Format     Format
	Data       []byte
}

// TileOverhead is the number of bytes a tile record adds to a TILES message besides its data.
const TileOverhead = tileHead

// TilesHeader is the size of a TILES message before its first record.
const TilesHeader = tilesHead

// EncodeSize returns a SIZE message.
func EncodeSize(w, h int) []byte {
	b := make([]byte, 5)
	b[0] = MsgSize
	binary.BigEndian.PutUint16(b[1:], uint16(w))
	binary.BigEndian.PutUint16(b[3:], uint16(h))
	return b
}

// EncodeFrame returns a FRAME message.
func EncodeFrame(seq uint32) []byte {
	b := make([]byte, 5)
	b[0] = MsgFrame
	binary.BigEndian.PutUint32(b[1:], seq)
	return b
}

// AppendTilesHeader starts a TILES message in dst with room for the count, which
// AppendTile keeps up to date.
func AppendTilesHeader(dst []byte) []byte {
	return append(dst, MsgTiles, 0, 0)
}

// AppendTile appends one record to a TILES message begun with AppendTilesHeader.
func AppendTile(msg []byte, t Tile) []byte {
	var h [tileHead]byte
	binary.BigEndian.PutUint16(h[0:], uint16(t.X))
	binary.BigEndian.PutUint16(h[2:], uint16(t.Y))
	binary.BigEndian.PutUint16(h[4:], uint16(t.W))
	binary.BigEndian.PutUint16(h[6:], uint16(t.H))
	h[8] = byte(t.Format)
	binary.BigEndian.PutUint32(h[9:], uint32(len(t.Data)))
	msg = append(msg, h[:]...)
	msg = append(msg, t.Data...)
	n := binary.BigEndian.Uint16(msg[1:])
	binary.BigEndian.PutUint16(msg[1:], n+1)
	return msg
}

// Cursor is the desktop's pointer shape: a W×H PNG with alpha whose pixel at HotX,HotY marks
// the pointer position. A 0×0 cursor (no PNG) means there is no shape to draw: the desktop
// hides its pointer or draws it into its pixels.
type Cursor struct {
	HotX, HotY, W, H int
	PNG              []byte
}

// EncodeCursor returns a CURSOR message. The caller keeps c within the protocol's limits
// (W and H up to MaxCursorSize, the hotspot inside, the message within MaxMessage).
func EncodeCursor(c Cursor) []byte {
	b := make([]byte, cursorHead, cursorHead+len(c.PNG))
	b[0] = MsgCursor
	binary.BigEndian.PutUint16(b[1:], uint16(c.HotX))
	binary.BigEndian.PutUint16(b[3:], uint16(c.HotY))
	binary.BigEndian.PutUint16(b[5:], uint16(c.W))
	binary.BigEndian.PutUint16(b[7:], uint16(c.H))
	return append(b, c.PNG...)
}

// Copy moves a W×H rectangle of the peer's framebuffer from SrcX,SrcY to DstX,DstY, as if
// through a copy of it (the two may overlap).
type Copy struct {
	SrcX, SrcY, W, H, DstX, DstY int
}

// EncodeCopy returns a COPY message.
func EncodeCopy(c Copy) []byte {
	b := make([]byte, copyLen)
	b[0] = MsgCopy
	for i, v := range [...]int{c.SrcX, c.SrcY, c.W, c.H, c.DstX, c.DstY} {
		binary.BigEndian.PutUint16(b[1+2*i:], uint16(v))
	}
	return b
}

// decodeCopy parses a COPY message whose rectangles must lie inside w×h.
func decodeCopy(b []byte, w, h int) (Display, error) {
	if len(b) != copyLen {
		return Display{}, fmt.Errorf("%w: COPY of %d bytes", ErrMalformed, len(b))
	}
	var v [6]int
	for i := range v {
		v[i] = int(binary.BigEndian.Uint16(b[1+2*i:]))
	}
	c := Copy{SrcX: v[0], SrcY: v[1], W: v[2], H: v[3], DstX: v[4], DstY: v[5]}
	if c.W < 1 || c.H < 1 || c.SrcX+c.W > w || c.SrcY+c.H > h || c.DstX+c.W > w || c.DstY+c.H > h {
		return Display{}, fmt.Errorf("%w: copy of %dx%d from %d,%d to %d,%d outside %dx%d", ErrOutOfRange, c.W, c.H, c.SrcX, c.SrcY, c.DstX, c.DstY, w, h)
	}
	return Display{Type: MsgCopy, Copy: c}, nil
}

// MaxCursorPNG is the largest PNG a CURSOR message carries.
const MaxCursorPNG = MaxMessage - cursorHead

// Display is a decoded display message: exactly one of its groups of fields is set,
// according to Type.
type Display struct {
	Type          byte
	Width, Height int    // MsgSize
	Tiles         []Tile // MsgTiles; Data aliases the message
	Seq           uint32 // MsgFrame
	Cursor        Cursor // MsgCursor; PNG aliases the message
	Copy          Copy   // MsgCopy
	Video         Video  // MsgVideo
}

// DecodeDisplay parses a display message. Tiles and copies must lie inside the size w×h the
// receiver currently holds (ignored for SIZE messages).
func DecodeDisplay(b []byte, w, h int) (Display, error) {
	if len(b) == 0 {
		return Display{}, fmt.Errorf("%w: empty display message", ErrMalformed)
	}
	if len(b) > MaxMessage {
		return Display{}, fmt.Errorf("%w: display message of %d bytes", ErrTooLarge, len(b))
	}
	switch b[0] {
	case MsgSize:
		if len(b) != 5 {
			return Display{}, fmt.Errorf("%w: SIZE of %d bytes", ErrMalformed, len(b))
		}
		d := Display{Type: MsgSize, Width: int(binary.BigEndian.Uint16(b[1:])), Height: int(binary.BigEndian.Uint16(b[3:]))}
		if d.Width < 1 || d.Height < 1 || d.Width > MaxDimension || d.Height > MaxDimension {
			return Display{}, fmt.Errorf("%w: size %dx%d", ErrOutOfRange, d.Width, d.Height)
		}
		return d, nil
	case MsgFrame:
		if len(b) != 5 {
			return Display{}, fmt.Errorf("%w: FRAME of %d bytes", ErrMalformed, len(b))
		}
		return Display{Type: MsgFrame, Seq: binary.BigEndian.Uint32(b[1:])}, nil
	case MsgTiles:
		return decodeTiles(b, w, h)
	case MsgCursor:
		return decodeCursor(b)
	case MsgCopy:
		return decodeCopy(b, w, h)
	case MsgVideo:
		return decodeVideo(b, w, h)
	}
	return Display{}, fmt.Errorf("%w: display type 0x%02x", ErrUnknownType, b[0])
}

// decodeCursor parses a CURSOR message; the PNG itself is the receiver's to check.
func decodeCursor(b []byte) (Display, error) {
	if len(b) < cursorHead {
		return Display{}, fmt.Errorf("%w: CURSOR of %d bytes", ErrMalformed, len(b))
	}
	c := Cursor{
		HotX: int(binary.BigEndian.Uint16(b[1:])),
		HotY: int(binary.BigEndian.Uint16(b[3:])),
		W:    int(binary.BigEndian.Uint16(b[5:])),
		H:    int(binary.BigEndian.Uint16(b[7:])),
	}
	png := b[cursorHead:]
	if c.W == 0 && c.H == 0 {
		if c.HotX != 0 || c.HotY != 0 || len(png) != 0 {
			return Display{}, fmt.Errorf("%w: empty CURSOR with a hotspot or an image", ErrMalformed)
		}
		return Display{Type: MsgCursor, Cursor: c}, nil
	}
	switch {
	case c.W < 1 || c.H < 1 || c.W > MaxCursorSize || c.H > MaxCursorSize:
		return Display{}, fmt.Errorf("%w: cursor of %dx%d", ErrOutOfRange, c.W, c.H)
	case c.HotX >= c.W || c.HotY >= c.H:
		return Display{}, fmt.Errorf("%w: hotspot %d,%d outside a %dx%d cursor", ErrOutOfRange, c.HotX, c.HotY, c.W, c.H)
	case len(png) == 0:
		return Display{}, fmt.Errorf("%w: CURSOR without an image", ErrMalformed)
	}
	c.PNG = png[:len(png):len(png)]
	return Display{Type: MsgCursor, Cursor: c}, nil
}

func decodeTiles(b []byte, w, h int) (Display, error) {
	if len(b) < tilesHead {
		return Display{}, fmt.Errorf("%w: TILES header", ErrMalformed)
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if n == 0 {
		return Display{}, fmt.Errorf("%w: TILES with no record", ErrMalformed)
	}
	d := Display{Type: MsgTiles, Tiles: make([]Tile, 0, min(n, len(b)/tileHead))}
	p := b[tilesHead:]
	for i := 0; i < n; i++ {
		if len(p) < tileHead {
			return Display{}, fmt.Errorf("%w: tile %d header truncated", ErrMalformed, i)
		}
		t := Tile{
			X:      int(binary.BigEndian.Uint16(p[0:])),
			Y:      int(binary.BigEndian.Uint16(p[2:])),
			W:      int(binary.BigEndian.Uint16(p[4:])),
			H:      int(binary.BigEndian.Uint16(p[6:])),
			Format: Format(p[8]),
		}
		l := binary.BigEndian.Uint32(p[9:])
		p = p[tileHead:]
		if uint64(l) > uint64(len(p)) {
			return Display{}, fmt.Errorf("%w: tile %d data truncated", ErrMalformed, i)
		}
		t.Data = p[:l:l]
		p = p[l:]
		switch {
		case t.Format < FormatPNG || t.Format > FormatWebP:
			return Display{}, fmt.Errorf("%w: tile %d format %d", ErrMalformed, i, t.Format)
		case t.Format == FormatFill && len(t.Data) != FillSize:
			return Display{}, fmt.Errorf("%w: fill tile %d of %d bytes", ErrMalformed, i, len(t.Data))
		}
		if t.W < 1 || t.H < 1 || t.X+t.W > w || t.Y+t.H > h {
			return Display{}, fmt.Errorf("%w: tile %d at %d,%d %dx%d outside %dx%d", ErrOutOfRange, i, t.X, t.Y, t.W, t.H, w, h)
		}
		d.Tiles = append(d.Tiles, t)
	}
	if len(p) != 0 {
		return Display{}, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(p))
	}
	return d, nil
}
