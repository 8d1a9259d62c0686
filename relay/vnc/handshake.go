package vnc

import (
	"crypto/des"
	"encoding/binary"
	"fmt"
	"image"
	"math/bits"
	"strconv"
)

// The RFB handshake: version, security (None or VNC Authentication) and initialisation.

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
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writeLocked(c.appendRequest(msg, false))
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
