package vnc

import (
	"bufio"
	"crypto/des"
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"io"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// RFB message types, security types and encodings (RFC 6143).
const (
	cmdSetPixelFormat = 0
	cmdSetEncodings   = 2
	cmdUpdateRequest  = 3
	cmdKeyEvent       = 4
	cmdPointerEvent   = 5
	cmdClientCutText  = 6

	msgFramebufferUpdate = 0
	msgSetColourMap      = 1
	msgBell              = 2
	msgServerCutText     = 3

	secNone    = 1
	secVNCAuth = 2

	encRaw                 int32 = 0
	encCopyRect            int32 = 1
	encZRLE                int32 = 16
	encCursor              int32 = -239
	encDesktopSize         int32 = -223
	encExtendedDesktopSize int32 = -308
)

// Limits on what a server may send.
const (
	maxReason     = 4 << 10  // bytes of a failure reason kept; the rest is skipped
	maxName       = 64 << 10 // the desktop name of ServerInit
	maxCursor     = 512      // width and height of a cursor shape
	maxWheelSteps = 16       // wheel steps per input event and axis
)

// notifier holds what a connection reports besides pixels (see Client.Notify); nil functions
// are skipped.
type notifier struct {
	desktop   func(available bool, reason string)
	cursor    func(shape *image.NRGBA, hotspot image.Point)
	clipboard func(text string)
}

// Pointer button masks of the wheel: buttons 4 to 7.
const (
	wheelUp    = 1 << 3
	wheelDown  = 1 << 4
	wheelLeft  = 1 << 5
	wheelRight = 1 << 6
)

// defaultEncodings are the encodings the client asks for, in order of preference.
var defaultEncodings = []int32{encZRLE, encCopyRect, encRaw, encDesktopSize, encExtendedDesktopSize, encCursor}

// writer is the server-bound side of a connection.
type writer interface {
	io.Writer
	SetWriteDeadline(t time.Time) error
	Close() error
}

// conn is one RFB session: handshake runs first, then serve reads the server's messages on
// one goroutine while input writes from others.
type conn struct {
	r      *bufio.Reader
	log    zerolog.Logger
	maxDim int // the largest framebuffer width and height accepted

	wmu          sync.Mutex // serialises writes and guards the fields below
	w            writer
	writeTimeout time.Duration
	size         image.Point // of the framebuffer, for checking input
	buttons      byte        // the RFB button mask last sent

	// Owned by the reading goroutine.
	notify notifier
	minor  int // the RFB 3.x version agreed on: 3, 7 or 8
	name   string
	fb     *image.RGBA
	zrle   zrleDecoder
	tmp    [20]byte
}

// handshake negotiates version and security, then initialises the session: it keeps fb if
// it has the server's size (else allocates a new framebuffer), sets the pixel format and
// encodings and asks for a full update.
func (c *conn) handshake(password string, fb *image.RGBA, encodings []int32) error {
	if err := c.version(); err != nil {
		return err
	}
	if err := c.security(password); err != nil {
		return err
	}
	if err := c.write([]byte{1}); err != nil { // ClientInit: shared, other viewers stay
		return err
	}
	b := c.tmp[:20]
	if err := c.read(b[:4]); err != nil {
		return fmt.Errorf("reading ServerInit: %w", err)
	}
	w, h := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
	if err := c.read(b[:16]); err != nil { // the server's pixel format, replaced below
		return fmt.Errorf("reading ServerInit: %w", err)
	}
	name, err := c.readString(maxName, true)
	if err != nil {
		return fmt.Errorf("reading desktop name: %w", err)
	}
	c.name = name
	if fb != nil && fb.Rect.Dx() == w && fb.Rect.Dy() == h {
		c.fb = fb
		c.size = image.Pt(w, h)
	} else if err := c.resize(w, h); err != nil {
		return err
	}

	msg := []byte{cmdSetPixelFormat, 0, 0, 0,
		32, 24, 0, 1, // 32 bits per pixel, depth 24, little-endian, true colour
		0, 255, 0, 255, 0, 255, // red, green, blue maxima
		0, 8, 16, // shifts: the bytes in memory are R, G, B, unused, like image.RGBA's
		0, 0, 0}
	msg = append(msg, cmdSetEncodings, 0)
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(encodings)))
	for _, e := range encodings {
		msg = binary.BigEndian.AppendUint32(msg, uint32(e))
	}
	return c.write(c.appendRequest(msg, false))
}

// version reads the server's ProtocolVersion and answers with the highest version both know.
func (c *conn) version() error {
	v := c.tmp[:12]
	if err := c.read(v); err != nil {
		return fmt.Errorf("reading protocol version: %w", err)
	}
	major, errMajor := strconv.Atoi(string(v[4:7]))
	minor, errMinor := strconv.Atoi(string(v[8:11]))
	if string(v[:4]) != "RFB " || v[7] != '.' || v[11] != '\n' || errMajor != nil || errMinor != nil {
		return fmt.Errorf("%w: protocol version %q", ErrUnsupported, v)
	}
	switch {
	case major != 3 || minor < 3:
		return fmt.Errorf("%w: RFB %d.%d", ErrUnsupported, major, minor)
	case minor >= 8: // 3.8 and later, like Apple's 3.889
		c.minor = 8
	case minor == 7:
		c.minor = 7
	default: // 3.4 to 3.6 are unofficial and speak 3.3
		c.minor = 3
	}
	return c.write(fmt.Appendf(nil, "RFB 003.%03d\n", c.minor))
}

// security chooses None if offered, else VNC Authentication, and reads the result.
func (c *conn) security(password string) error {
	var sec byte
	if c.minor >= 7 {
		n, err := c.readU8()
		if err != nil {
			return fmt.Errorf("reading security types: %w", err)
		}
		if n == 0 {
			return c.refused("connection")
		}
		types := make([]byte, n)
		if err := c.read(types); err != nil {
			return fmt.Errorf("reading security types: %w", err)
		}
		for _, t := range types {
			if t == secNone || (t == secVNCAuth && sec == 0) {
				sec = t
			}
		}
		if sec == 0 {
			return fmt.Errorf("%w: security types %v, want None (1) or VNC Authentication (2)", ErrUnsupported, types)
		}
		if err := c.write([]byte{sec}); err != nil {
			return err
		}
	} else {
		if err := c.read(c.tmp[:4]); err != nil {
			return fmt.Errorf("reading security type: %w", err)
		}
		switch t := binary.BigEndian.Uint32(c.tmp[:4]); t {
		case 0:
			return c.refused("connection")
		case secNone, secVNCAuth:
			sec = byte(t)
		default:
			return fmt.Errorf("%w: security type %d", ErrUnsupported, t)
		}
	}
	if sec == secVNCAuth {
		if password == "" {
			return fmt.Errorf("%w: the server wants a password and none is set", ErrAuth)
		}
		challenge := c.tmp[:16]
		if err := c.read(challenge); err != nil {
			return fmt.Errorf("reading VNC Authentication challenge: %w", err)
		}
		if err := c.write(vncAuthResponse(password, challenge)); err != nil {
			return err
		}
	}
	if sec == secNone && c.minor < 8 {
		return nil // no SecurityResult before 3.8
	}
	if err := c.read(c.tmp[:4]); err != nil {
		return fmt.Errorf("reading security result: %w", err)
	}
	if binary.BigEndian.Uint32(c.tmp[:4]) != 0 {
		if c.minor < 8 {
			return fmt.Errorf("%w: the server refused the password", ErrAuth)
		}
		reason, err := c.readString(maxReason, false)
		if err != nil {
			return fmt.Errorf("%w: reading reason: %w", ErrAuth, err)
		}
		return fmt.Errorf("%w: %q", ErrAuth, reason)
	}
	return nil
}

// refused reads the reason a server gives for refusing what and returns it as an error.
func (c *conn) refused(what string) error {
	reason, err := c.readString(maxReason, false)
	if err != nil {
		return fmt.Errorf("server refused the %s; reading reason: %w", what, err)
	}
	return fmt.Errorf("server refused the %s: %q", what, reason)
}

// vncAuthResponse encrypts the challenge with DES, keyed by the first 8 bytes of the password
// with the bits of each byte reversed, as VNC Authentication does.
func vncAuthResponse(password string, challenge []byte) []byte {
	var key [8]byte
	copy(key[:], password)
	for i := range key {
		key[i] = bits.Reverse8(key[i])
	}
	block, _ := des.NewCipher(key[:]) // fails only for a key length other than 8
	out := make([]byte, 16)
	block.Encrypt(out[:8], challenge[:8])
	block.Encrypt(out[8:], challenge[8:16])
	return out
}

// serve reads server messages until the connection fails, calling update after every
// framebuffer update that changed pixels and asking the server for the next one.
func (c *conn) serve(update func(*image.RGBA, []image.Rectangle)) error {
	for {
		t, err := c.readU8()
		if err != nil {
			return err
		}
		switch t {
		case msgFramebufferUpdate:
			damage, resized, err := c.readUpdate()
			if err != nil {
				return err
			}
			// After a resize, ask for every pixel of the new size.
			if err := c.write(c.appendRequest(nil, !resized)); err != nil {
				return err
			}
			if len(damage) > 0 {
				update(c.fb, damage)
			}
		case msgSetColourMap: // meaningless in true colour
			if err := c.read(c.tmp[:5]); err != nil {
				return err
			}
			if err := c.skip(6 * int64(binary.BigEndian.Uint16(c.tmp[3:]))); err != nil {
				return err
			}
		case msgBell:
		case msgServerCutText:
			if err := c.readCutText(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: message type %d", errProtocol, t)
		}
	}
}

// readUpdate reads the rectangles of a FramebufferUpdate into the framebuffer and returns the
// damage; after a resize, the damage is the whole new framebuffer.
func (c *conn) readUpdate() (damage []image.Rectangle, resized bool, err error) {
	b := c.tmp[:12]
	if err := c.read(b[:3]); err != nil {
		return nil, false, err
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	for range n {
		if err := c.read(b); err != nil {
			return nil, false, err
		}
		x, y := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
		w, h := int(binary.BigEndian.Uint16(b[4:])), int(binary.BigEndian.Uint16(b[6:]))
		enc := int32(binary.BigEndian.Uint32(b[8:]))
		r := image.Rect(x, y, x+w, y+h)
		switch enc {
		case encRaw, encCopyRect, encZRLE:
			if x+w > c.fb.Rect.Dx() || y+h > c.fb.Rect.Dy() { // r.In passes any empty r
				return nil, false, fmt.Errorf("%w: rectangle %v outside the %v framebuffer", errProtocol, r, c.fb.Rect.Max)
			}
			if err := c.readPixels(enc, r); err != nil {
				return nil, false, err
			}
			if !r.Empty() {
				damage = append(damage, r)
			}
		case encDesktopSize, encExtendedDesktopSize:
			if enc == encExtendedDesktopSize {
				if err := c.read(b[:4]); err != nil {
					return nil, false, err
				}
				if err := c.skip(16 * int64(b[0])); err != nil { // the screens' layout
					return nil, false, err
				}
				if y != 0 { // the status of a change this client asked for; it asks for none
					continue
				}
			}
			// TigerVNC repeats ExtendedDesktopSize in every full update, resized or not.
			if w == c.fb.Rect.Dx() && h == c.fb.Rect.Dy() {
				continue
			}
			if err := c.resize(w, h); err != nil {
				return nil, false, err
			}
			resized = true
		case encCursor:
			if err := c.readCursor(w, h, image.Pt(x, y)); err != nil {
				return nil, false, err
			}
		default:
			return nil, false, fmt.Errorf("%w: encoding %d", errProtocol, enc)
		}
	}
	if resized {
		damage = []image.Rectangle{c.fb.Rect}
	}
	return damage, resized, nil
}

// readCursor reads a Cursor pseudo-encoding rectangle of w×h pixels, in the client's pixel
// format, then its bitmask (1 is opaque, rows padded to bytes), and reports the shape.
func (c *conn) readCursor(w, h int, hotspot image.Point) error {
	if w > maxCursor || h > maxCursor {
		return fmt.Errorf("%w: cursor of %dx%d", errProtocol, w, h)
	}
	shape := image.NewNRGBA(image.Rect(0, 0, w, h))
	if err := c.read(shape.Pix); err != nil { // R, G, B, unused: as image.NRGBA's bytes
		return err
	}
	stride := (w + 7) / 8
	mask := make([]byte, stride*h)
	if err := c.read(mask); err != nil {
		return err
	}
	for y := range h {
		for x := range w {
			a := byte(0)
			if mask[y*stride+x/8]&(0x80>>(x%8)) != 0 {
				a = 0xff
			}
			shape.Pix[shape.PixOffset(x, y)+3] = a
		}
	}
	if c.notify.cursor != nil {
		c.notify.cursor(shape, hotspot)
	}
	return nil
}

// readCutText reads a ServerCutText message: Latin-1 text, of which the first
// wire.MaxClipboard bytes of UTF-8 are kept and reported, the rest read through.
func (c *conn) readCutText() error {
	if err := c.read(c.tmp[:7]); err != nil { // padding, length
		return err
	}
	n := int64(binary.BigEndian.Uint32(c.tmp[3:]))
	latin1 := make([]byte, min(n, wire.MaxClipboard))
	if err := c.read(latin1); err != nil {
		return err
	}
	if err := c.skip(n - int64(len(latin1))); err != nil {
		return err
	}
	text := latin1ToUTF8(latin1, wire.MaxClipboard)
	c.log.Debug().Int64("bytes", n).Int("kept", len(text)).Msg("server clipboard changed") // never its content
	if c.notify.clipboard != nil {
		c.notify.clipboard(text)
	}
	return nil
}

// latin1ToUTF8 decodes Latin-1 text as UTF-8, keeping the characters whose encoding fits in
// limit bytes.
func latin1ToUTF8(b []byte, limit int) string {
	out := make([]byte, 0, min(2*len(b), limit))
	for _, ch := range b {
		if len(out)+utf8.RuneLen(rune(ch)) > limit {
			break
		}
		out = utf8.AppendRune(out, rune(ch))
	}
	return string(out)
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

// readPixels reads the rectangle r, inside the framebuffer, in the encoding enc.
func (c *conn) readPixels(enc int32, r image.Rectangle) error {
	switch enc {
	case encRaw:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := c.fb.Pix[c.fb.PixOffset(r.Min.X, y):c.fb.PixOffset(r.Max.X, y)]
			if err := c.read(row); err != nil {
				return err
			}
			for i := 3; i < len(row); i += 4 {
				row[i] = 0xff
			}
		}
		return nil
	case encCopyRect:
		if err := c.read(c.tmp[:4]); err != nil {
			return err
		}
		sp := image.Pt(int(binary.BigEndian.Uint16(c.tmp[:])), int(binary.BigEndian.Uint16(c.tmp[2:])))
		if src := r.Add(sp.Sub(r.Min)); !src.In(c.fb.Rect) {
			return fmt.Errorf("%w: CopyRect source %v outside the %v framebuffer", errProtocol, src, c.fb.Rect.Max)
		}
		draw.Draw(c.fb, r, c.fb, sp, draw.Src) // handles overlapping source and destination
		return nil
	default:
		return c.zrle.decode(c.r, c.fb, r)
	}
}

// resize replaces the framebuffer with an opaque black one of w×h pixels.
func (c *conn) resize(w, h int) error {
	if w < 1 || h < 1 || w > c.maxDim || h > c.maxDim {
		return fmt.Errorf("%w: desktop size %dx%d outside 1..%d", errProtocol, w, h, c.maxDim)
	}
	c.fb = image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(c.fb.Pix); i += 4 {
		c.fb.Pix[i] = 0xff
	}
	c.wmu.Lock()
	c.size = image.Pt(w, h)
	c.wmu.Unlock()
	return nil
}

// appendRequest appends a FramebufferUpdateRequest for the whole framebuffer to b.
func (c *conn) appendRequest(b []byte, incremental bool) []byte {
	inc := byte(0)
	if incremental {
		inc = 1
	}
	b = append(b, cmdUpdateRequest, inc, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(c.fb.Rect.Dx()))
	return binary.BigEndian.AppendUint16(b, uint16(c.fb.Rect.Dy()))
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

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(b)
}

// writeLocked writes b within the write timeout; c.wmu is held. A failed write leaves the
// stream in an unknown state, so it closes the connection and the reader reconnects.
func (c *conn) writeLocked(b []byte) error {
	err := c.w.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if err == nil {
		_, err = c.w.Write(b)
	}
	if err != nil {
		_ = c.w.Close()
		return fmt.Errorf("writing to the VNC server: %w", err)
	}
	return nil
}

func (c *conn) read(b []byte) error {
	_, err := io.ReadFull(c.r, b)
	return err
}

func (c *conn) readU8() (byte, error) {
	return c.r.ReadByte()
}

func (c *conn) skip(n int64) error {
	_, err := c.r.Discard(int(n))
	return err
}

// readString reads a u32 length and that many bytes. A longer string than limit is an error
// if strict, else it is cut to limit.
func (c *conn) readString(limit int, strict bool) (string, error) {
	if err := c.read(c.tmp[:4]); err != nil {
		return "", err
	}
	n := int64(binary.BigEndian.Uint32(c.tmp[:4]))
	if strict && n > int64(limit) {
		return "", fmt.Errorf("%w: string of %d bytes", errProtocol, n)
	}
	s := make([]byte, min(n, int64(limit)))
	if err := c.read(s); err != nil {
		return "", err
	}
	return string(s), c.skip(n - int64(len(s)))
}
