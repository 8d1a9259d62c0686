package vnc

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/draw"
	"unicode/utf8"

	"peerdesk/relay/wire"
)

// Reading what the server sends: framebuffer updates, cursor shapes, cut text.

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
			if err := c.requestNext(resized, len(damage) > 0); err != nil {
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
		if c.notify.copy != nil && !r.Empty() {
			c.notify.copy(r.Add(sp.Sub(r.Min)), r.Min)
		}
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
