package vnc

import (
	"encoding/binary"
	"fmt"
	"image"
	"strings"

	"peerdesk/relay/wire"
)

// Writing input to the server: pointer, wheel, keys, cut text, update requests.

// appendRequest appends a FramebufferUpdateRequest for the whole framebuffer to b; c.wmu is
// held.
func (c *conn) appendRequest(b []byte, incremental bool) []byte {
	inc := byte(0)
	if incremental {
		inc = 1
	}
	b = append(b, cmdUpdateRequest, inc, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(c.size.X))
	return binary.BigEndian.AppendUint16(b, uint16(c.size.Y))
}

// requestNext asks for the next update once one came: every pixel after a resize. While
// nobody watches, an update that painted pixels (the framebuffer is whole) and did not resize
// is the last until setIdle(false); one that painted none, such as TigerVNC's first, which
// only tells the size, is not.
func (c *conn) requestNext(resized, painted bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.idle && painted && !resized {
		c.paused = true
		return nil
	}
	return c.writeLocked(c.appendRequest(nil, !resized))
}

// setIdle stops asking the server for updates (idle), or asks again, for every pixel: what the
// pipeline holds may be long out of date, and the peers that come now get a whole, current
// frame whatever the server kept of the changes meanwhile.
func (c *conn) setIdle(idle bool) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.idle = idle
	if idle || !c.paused {
		return nil
	}
	c.paused = false
	return c.writeLocked(c.appendRequest(nil, false))
}

// input sends one input event as RFB PointerEvents, a KeyEvent or a ClientCutText.
func (c *conn) input(in wire.Input) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if in.Type == wire.MsgPointer || in.Type == wire.MsgWheel {
		if !image.Pt(in.X, in.Y).In(image.Rectangle{Max: c.size}) {
			return fmt.Errorf("%w: position %d,%d outside %dx%d", ErrBadInput, in.X, in.Y, c.size.X, c.size.Y)
		}
	}
	var b []byte
	switch in.Type {
	case wire.MsgPointer:
		// RFB's buttons 1 to 3 (left, middle, right) use the bits of the wire's.
		c.buttons = in.Buttons & (wire.ButtonLeft | wire.ButtonMiddle | wire.ButtonRight)
		b = appendPointer(nil, c.buttons, in.X, in.Y)
	case wire.MsgWheel:
		b = appendPointer(nil, c.buttons, in.X, in.Y)
		b = c.appendWheel(b, in.DY, wheelDown, wheelUp, in.X, in.Y)
		b = c.appendWheel(b, in.DX, wheelRight, wheelLeft, in.X, in.Y)
	case wire.MsgKey:
		down := byte(0)
		if in.Down {
			down = 1
		}
		b = binary.BigEndian.AppendUint32([]byte{cmdKeyEvent, down, 0, 0}, in.Keysym)
	case wire.MsgClipboard:
		latin1 := utf8ToLatin1(in.Text)
		b = binary.BigEndian.AppendUint32([]byte{cmdClientCutText, 0, 0, 0}, uint32(len(latin1)))
		b = append(b, latin1...)
	default:
		return fmt.Errorf("%w: input type 0x%02x", ErrBadInput, in.Type)
	}
	return c.writeLocked(b)
}

// appendWheel appends a press and release of the button plus (steps > 0) or minus for each
// wheel step, at most maxWheelSteps.
func (c *conn) appendWheel(b []byte, steps int, plus, minus byte, x, y int) []byte {
	button := plus
	if steps < 0 {
		button, steps = minus, -steps
	}
	for range min(steps, maxWheelSteps) {
		b = appendPointer(b, c.buttons|button, x, y)
		b = appendPointer(b, c.buttons, x, y)
	}
	return b
}

func appendPointer(b []byte, mask byte, x, y int) []byte {
	b = append(b, cmdPointerEvent, mask)
	b = binary.BigEndian.AppendUint16(b, uint16(x))
	return binary.BigEndian.AppendUint16(b, uint16(y))
}

// utf8ToLatin1 encodes text as the Latin-1 that RFB's cut text carries: line ends as a lone
// newline, and '?' for every character outside Latin-1.
func utf8ToLatin1(text string) []byte {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	out := make([]byte, 0, len(text))
	for _, r := range text {
		if r > 0xff {
			r = '?'
		}
		out = append(out, byte(r))
	}
	return out
}
