package vnc

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"image"
	"io"
	"sync"
	"time"

	"github.com/rs/zerolog"
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
	copy      func(src image.Rectangle, dst image.Point)
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
	size         image.Point // of the framebuffer, for checking input and requests
	buttons      byte        // the RFB button mask last sent
	idle         bool        // nobody watches: no update is asked for (setIdle)
	paused       bool        // idle, and the last update asked for came: none is outstanding

	// Owned by the reading goroutine.
	notify notifier
	minor  int // the RFB 3.x version agreed on: 3, 7 or 8
	name   string
	fb     *image.RGBA
	zrle   zrleDecoder
	tmp    [20]byte
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
