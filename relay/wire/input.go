package wire

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"
)

// Input message types.
const (
	MsgPointer   byte = 0x01
	MsgWheel     byte = 0x02
	MsgKey       byte = 0x03
	MsgClipboard byte = 0x04
	// MsgPointAt says where the peer's pointer is over the desktop, for the others to see
	// (docs/PROTOCOL.md, 3.3): never applied to the host, and accepted from read-only peers too.
	MsgPointAt byte = 0x05
)

// MaxClipboard bounds the clipboard text, in bytes of UTF-8, that either side sends.
const MaxClipboard = 32 << 10

// clipboardHead is the size of a clipboard message before its text: type, length.
const clipboardHead = 5

// Pointer buttons, as bits of Input.Buttons.
const (
	ButtonLeft   uint8 = 1 << 0
	ButtonMiddle uint8 = 1 << 1
	ButtonRight  uint8 = 1 << 2
)

// Input is a decoded input message; Type says which fields are set.
type Input struct {
	Type    byte
	X, Y    int    // MsgPointer, MsgWheel, MsgPointAt
	Buttons uint8  // MsgPointer
	DX, DY  int    // MsgWheel
	Keysym  uint32 // MsgKey
	Down    bool   // MsgKey
	Text    string // MsgClipboard: valid UTF-8, at most MaxClipboard bytes
}

// EncodePointer returns a pointer message.
func EncodePointer(x, y int, buttons uint8) []byte {
	b := []byte{MsgPointer, 0, 0, 0, 0, buttons}
	binary.BigEndian.PutUint16(b[1:], uint16(x))
	binary.BigEndian.PutUint16(b[3:], uint16(y))
	return b
}

// EncodeWheel returns a wheel message.
func EncodeWheel(x, y, dx, dy int) []byte {
	b := make([]byte, 9)
	b[0] = MsgWheel
	binary.BigEndian.PutUint16(b[1:], uint16(x))
	binary.BigEndian.PutUint16(b[3:], uint16(y))
	binary.BigEndian.PutUint16(b[5:], uint16(int16(dx)))
	binary.BigEndian.PutUint16(b[7:], uint16(int16(dy)))
	return b
}

// EncodePointAt returns a point-at message.
func EncodePointAt(x, y int) []byte {
	b := []byte{MsgPointAt, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[1:], uint16(x))
	binary.BigEndian.PutUint16(b[3:], uint16(y))
	return b
}

// EncodeKey returns a key message.
func EncodeKey(keysym uint32, down bool) []byte {
	b := make([]byte, 6)
	b[0] = MsgKey
	if down {
		b[1] = 1
	}
	binary.BigEndian.PutUint32(b[2:], keysym)
	return b
}

// EncodeClipboard returns a clipboard message; the caller keeps text within MaxClipboard bytes.
func EncodeClipboard(text string) []byte {
	b := make([]byte, clipboardHead, clipboardHead+len(text))
	b[0] = MsgClipboard
	binary.BigEndian.PutUint32(b[1:], uint32(len(text)))
	return append(b, text...)
}

// DecodeInput parses an input message and checks its coordinates against the
// desktop size w×h.
func DecodeInput(b []byte, w, h int) (Input, error) {
	if len(b) == 0 {
		return Input{}, fmt.Errorf("%w: empty input message", ErrMalformed)
	}
	if b[0] == MsgClipboard {
		return decodeClipboard(b)
	}
	want := map[byte]int{MsgPointer: 6, MsgWheel: 9, MsgKey: 6, MsgPointAt: 5}[b[0]]
	if want == 0 {
		return Input{}, fmt.Errorf("%w: input type 0x%02x", ErrUnknownType, b[0])
	}
	if len(b) != want {
		return Input{}, fmt.Errorf("%w: input type 0x%02x of %d bytes, want %d", ErrMalformed, b[0], len(b), want)
	}
	in := Input{Type: b[0]}
	switch b[0] {
	case MsgKey:
		if b[1] > 1 {
			return Input{}, fmt.Errorf("%w: key down flag %d", ErrMalformed, b[1])
		}
		in.Down = b[1] == 1
		in.Keysym = binary.BigEndian.Uint32(b[2:])
		return in, nil
	case MsgPointer:
		in.Buttons = b[5]
		if in.Buttons&^(ButtonLeft|ButtonMiddle|ButtonRight) != 0 {
			return Input{}, fmt.Errorf("%w: pointer buttons 0x%02x", ErrMalformed, in.Buttons)
		}
	case MsgWheel:
		in.DX = int(int16(binary.BigEndian.Uint16(b[5:])))
		in.DY = int(int16(binary.BigEndian.Uint16(b[7:])))
	}
	in.X = int(binary.BigEndian.Uint16(b[1:]))
	in.Y = int(binary.BigEndian.Uint16(b[3:]))
	if in.X >= w || in.Y >= h {
		return Input{}, fmt.Errorf("%w: pointer at %d,%d outside %dx%d", ErrOutOfRange, in.X, in.Y, w, h)
	}
	return in, nil
}

// decodeClipboard parses a clipboard message: a length that matches the message, at most
// MaxClipboard bytes of valid UTF-8.
func decodeClipboard(b []byte) (Input, error) {
	if len(b) < clipboardHead {
		return Input{}, fmt.Errorf("%w: clipboard message of %d bytes", ErrMalformed, len(b))
	}
	n := binary.BigEndian.Uint32(b[1:])
	text := b[clipboardHead:]
	switch {
	case uint64(n) != uint64(len(text)):
		return Input{}, fmt.Errorf("%w: clipboard length %d for %d bytes of text", ErrMalformed, n, len(text))
	case n > MaxClipboard:
		return Input{}, fmt.Errorf("%w: clipboard text of %d bytes, limit %d", ErrTooLarge, n, MaxClipboard)
	case !utf8.Valid(text):
		return Input{}, fmt.Errorf("%w: clipboard text is not UTF-8", ErrMalformed)
	}
	return Input{Type: MsgClipboard, Text: string(text)}, nil
}
