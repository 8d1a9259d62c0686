package vnc

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"image"
	"io"
)

// ZRLE limits and layout.
const (
	zrleTile      = 64
	cpixel        = 3        // bytes of a compressed pixel: R, G, B at 32 bits per pixel, depth 24
	maxZRLESlack  = 64 << 10 // compressed bytes beyond the raw size, and unconsumed between rectangles
	maxPaletteLen = 127
)

// zrleDecoder decodes ZRLE rectangles. One zlib stream runs through all the rectangles of a
// connection, so a decoder serves one connection.
type zrleDecoder struct {
	// src holds the compressed bytes fed so far that zlib has not read. It is an
	// io.ByteReader, so zlib reads exactly what it decodes and no further.
	src     bytes.Buffer
	zr      io.ReadCloser // nil until the first rectangle
	buf     [cpixel * zrleTile * zrleTile]byte
	palette [maxPaletteLen][4]byte
}

// decode reads one ZRLE rectangle from r into fb; rect lies inside fb.
func (d *zrleDecoder) decode(r io.Reader, fb *image.RGBA, rect image.Rectangle) error {
	var l [4]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint32(l[:]))
	if limit := int64(4*rect.Dx()*rect.Dy()) + maxZRLESlack; n > limit {
		return fmt.Errorf("%w: ZRLE data of %d bytes for a %v rectangle", errProtocol, n, rect.Size())
	}
	if d.src.Len() > maxZRLESlack {
		return fmt.Errorf("%w: %d bytes of ZRLE data left unused", errProtocol, d.src.Len())
	}
	// Memory grows with the bytes that arrive, not with the length the server claims.
	if m, err := d.src.ReadFrom(io.LimitReader(r, n)); err != nil {
		return err
	} else if m < n {
		return io.ErrUnexpectedEOF
	}
	if d.zr == nil {
		zr, err := zlib.NewReader(&d.src)
		if err != nil {
			return fmt.Errorf("%w: ZRLE zlib stream: %w", errProtocol, err)
		}
		d.zr = zr
	}
	for y := rect.Min.Y; y < rect.Max.Y; y += zrleTile {
		for x := rect.Min.X; x < rect.Max.X; x += zrleTile {
			t := image.Rect(x, y, min(x+zrleTile, rect.Max.X), min(y+zrleTile, rect.Max.Y))
			if err := d.tile(fb, t); err != nil {
				return err
			}
		}
	}
	return nil
}

// tile decodes one tile t from the zlib stream into fb.
func (d *zrleDecoder) tile(fb *image.RGBA, t image.Rectangle) error {
	sub, err := d.readByte()
	if err != nil {
		return err
	}
	w, n := t.Dx(), t.Dx()*t.Dy()
	set := func(i int, p [4]byte) {
		o := fb.PixOffset(t.Min.X+i%w, t.Min.Y+i/w)
		copy(fb.Pix[o:o+4], p[:])
	}
	switch {
	case sub == 0: // raw
		b := d.buf[:cpixel*n]
		if err := d.read(b); err != nil {
			return err
		}
		for i := range n {
			set(i, [4]byte{b[3*i], b[3*i+1], b[3*i+2], 0xff})
		}
	case sub == 1: // solid
		p, err := d.readPixel()
		if err != nil {
			return err
		}
		for i := range n {
			set(i, p)
		}
	case sub <= 16: // packed palette
		if err := d.readPalette(int(sub)); err != nil {
			return err
		}
		bits := 4
		if sub == 2 {
			bits = 1
		} else if sub <= 4 {
			bits = 2
		}
		rowBytes := (w*bits + 7) / 8
		b := d.buf[:rowBytes*t.Dy()]
		if err := d.read(b); err != nil {
			return err
		}
		for i := range n {
			row, col := i/w, i%w
			bit := col * bits
			idx := int(b[row*rowBytes+bit/8]>>(8-bits-bit%8)) & (1<<bits - 1)
			if idx >= int(sub) {
				return fmt.Errorf("%w: ZRLE palette index %d of %d", errProtocol, idx, sub)
			}
			set(i, d.palette[idx])
		}
	case sub == 128: // plain RLE
		for i := 0; i < n; {
			p, err := d.readPixel()
			if err != nil {
				return err
			}
			run, err := d.runLength(n - i)
			if err != nil {
				return err
			}
			for end := i + run; i < end; i++ {
				set(i, p)
			}
		}
	case sub >= 130: // palette RLE
		size := int(sub) - 128
		if err := d.readPalette(size); err != nil {
			return err
		}
		for i := 0; i < n; {
			b, err := d.readByte()
			if err != nil {
				return err
			}
			idx, run := int(b&0x7f), 1
			if idx >= size {
				return fmt.Errorf("%w: ZRLE palette index %d of %d", errProtocol, idx, size)
			}
			if b&0x80 != 0 {
				if run, err = d.runLength(n - i); err != nil {
					return err
				}
			}
			for end := i + run; i < end; i++ {
				set(i, d.palette[idx])
			}
		}
	default:
		return fmt.Errorf("%w: ZRLE subencoding %d", errProtocol, sub)
	}
	return nil
}

// runLength reads an RLE run length, at most limit.
func (d *zrleDecoder) runLength(limit int) (int, error) {
	run := 1
	for {
		b, err := d.readByte()
		if err != nil {
			return 0, err
		}
		run += int(b)
		if run > limit {
			return 0, fmt.Errorf("%w: ZRLE run of %d pixels, %d left in the tile", errProtocol, run, limit)
		}
		if b != 0xff {
			return run, nil
		}
	}
}

func (d *zrleDecoder) readPalette(size int) error {
	b := d.buf[:cpixel*size]
	if err := d.read(b); err != nil {
		return err
	}
	for i := range size {
		d.palette[i] = [4]byte{b[3*i], b[3*i+1], b[3*i+2], 0xff}
	}
	return nil
}

func (d *zrleDecoder) readPixel() ([4]byte, error) {
	var b [cpixel]byte
	err := d.read(b[:])
	return [4]byte{b[0], b[1], b[2], 0xff}, err
}

func (d *zrleDecoder) readByte() (byte, error) {
	var b [1]byte
	err := d.read(b[:])
	return b[0], err
}

// read fills b from the zlib stream. It never asks for more than the tile needs: zlib would
// then read past this rectangle's data, fail, and keep failing.
func (d *zrleDecoder) read(b []byte) error {
	if _, err := io.ReadFull(d.zr, b); err != nil {
		return fmt.Errorf("%w: ZRLE data: %w", errProtocol, err)
	}
	return nil
}
