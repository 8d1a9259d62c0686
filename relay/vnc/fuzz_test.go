package vnc

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The server side of RFB in bytes, for decoding what no real server is asked to send.

const fuzzW, fuzzH = 150, 150

// serverHello is a 3.8 server's handshake with security None and a fuzzW×fuzzH desktop.
func serverHello() []byte {
	b := []byte("RFB 003.008\n")
	b = append(b, 1, secNone, 0, 0, 0, 0) // one security type; SecurityResult OK
	b = binary.BigEndian.AppendUint16(b, fuzzW)
	b = binary.BigEndian.AppendUint16(b, fuzzH)
	b = append(b, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0) // the server's format
	b = binary.BigEndian.AppendUint32(b, 4)
	return append(b, "fuzz"...)
}

// discard is a server that reads nothing the client writes.
type discard struct{}

func (discard) Write(b []byte) (int, error)      { return len(b), nil }
func (discard) SetWriteDeadline(time.Time) error { return nil }
func (discard) Close() error                     { return nil }

// serve runs a client over the handshake and then msgs, checking every update, and returns
// the last framebuffer and serve's error.
func serve(t *testing.T, msgs []byte, maxDim int) (*image.RGBA, error) {
	c := &conn{
		r:            bufio.NewReader(io.MultiReader(bytes.NewReader(serverHello()), bytes.NewReader(msgs))),
		w:            discard{},
		log:          zerolog.Nop(),
		maxDim:       maxDim,
		writeTimeout: time.Second,
	}
	if err := c.handshake("", nil, defaultEncodings); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	err := c.serve(func(frame *image.RGBA, damage []image.Rectangle) {
		if len(damage) == 0 {
			t.Error("an update without damage")
		}
		for _, r := range damage {
			if r.Empty() || !r.In(frame.Rect) {
				t.Errorf("damage %v outside the frame %v", r, frame.Rect)
			}
		}
	})
	return c.fb, err
}

// msgBuilder writes server messages.
type msgBuilder struct {
	b  []byte
	zb bytes.Buffer
	zw *zlib.Writer // the connection's ZRLE stream
}

// update starts a FramebufferUpdate of n rectangles.
func (m *msgBuilder) update(n int) {
	m.b = append(m.b, msgFramebufferUpdate, 0)
	m.b = binary.BigEndian.AppendUint16(m.b, uint16(n))
}

func (m *msgBuilder) rect(r image.Rectangle, enc int32) {
	for _, v := range []int{r.Min.X, r.Min.Y, r.Dx(), r.Dy()} {
		m.b = binary.BigEndian.AppendUint16(m.b, uint16(v))
	}
	m.b = binary.BigEndian.AppendUint32(m.b, uint32(enc))
}

func (m *msgBuilder) raw(img *image.RGBA, r image.Rectangle) {
	m.rect(r, encRaw)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			p := img.RGBAAt(x, y)
			m.b = append(m.b, p.R, p.G, p.B, 0)
		}
	}
}

func (m *msgBuilder) copyRect(r image.Rectangle, src image.Point) {
	m.rect(r, encCopyRect)
	m.b = binary.BigEndian.AppendUint16(m.b, uint16(src.X))
	m.b = binary.BigEndian.AppendUint16(m.b, uint16(src.Y))
}

// zrle encodes r of img; each tile's subencoding depends on its colours.
func (m *msgBuilder) zrle(img *image.RGBA, r image.Rectangle) {
	if m.zw == nil {
		m.zw = zlib.NewWriter(&m.zb)
	}
	var tiles []byte
	for ty := r.Min.Y; ty < r.Max.Y; ty += zrleTile {
		for tx := r.Min.X; tx < r.Max.X; tx += zrleTile {
			tiles = appendTile(tiles, img, image.Rect(tx, ty, min(tx+zrleTile, r.Max.X), min(ty+zrleTile, r.Max.Y)))
		}
	}
	_, _ = m.zw.Write(tiles)
	_ = m.zw.Flush()
	m.rect(r, encZRLE)
	m.b = binary.BigEndian.AppendUint32(m.b, uint32(m.zb.Len()))
	m.b = append(m.b, m.zb.Bytes()...)
	m.zb.Reset()
}

// appendTile encodes tile t of img: solid, packed palette, palette RLE, plain RLE or raw,
// the first that suits its colours.
func appendTile(b []byte, img *image.RGBA, t image.Rectangle) []byte {
	var px [][3]byte
	index := map[[3]byte]int{}
	var palette [][3]byte
	runs := 0
	for y := t.Min.Y; y < t.Max.Y; y++ {
		for x := t.Min.X; x < t.Max.X; x++ {
			p := img.RGBAAt(x, y)
			c := [3]byte{p.R, p.G, p.B}
			if _, ok := index[c]; !ok {
				index[c] = len(palette)
				palette = append(palette, c)
			}
			if len(px) == 0 || px[len(px)-1] != c {
				runs++
			}
			px = append(px, c)
		}
	}
	eachRun := func(emit func(c [3]byte, n int)) {
		for i := 0; i < len(px); {
			n := 1
			for i+n < len(px) && px[i+n] == px[i] {
				n++
			}
			emit(px[i], n)
			i += n
		}
	}
	appendRun := func(n int) {
		for n--; n >= 255; n -= 255 {
			b = append(b, 255)
		}
		b = append(b, byte(n))
	}
	appendPalette := func(sub byte) {
		b = append(b, sub)
		for _, c := range palette {
			b = append(b, c[:]...)
		}
	}
	switch {
	case len(palette) == 1:
		b = append(b, 1)
		b = append(b, px[0][:]...)
	case len(palette) <= 16:
		appendPalette(byte(len(palette)))
		bits := 4
		if len(palette) == 2 {
			bits = 1
		} else if len(palette) <= 4 {
			bits = 2
		}
		w := t.Dx()
		for y := range t.Dy() {
			var cur byte
			used := 0
			for x := range w {
				cur |= byte(index[px[y*w+x]]) << (8 - bits - used)
				if used += bits; used == 8 {
					b, cur, used = append(b, cur), 0, 0
				}
			}
			if used > 0 {
				b = append(b, cur)
			}
		}
	case len(palette) <= maxPaletteLen:
		appendPalette(byte(128 + len(palette)))
		eachRun(func(c [3]byte, n int) {
			if n == 1 {
				b = append(b, byte(index[c]))
				return
			}
			b = append(b, 0x80|byte(index[c]))
			appendRun(n)
		})
	case runs*4 <= len(px):
		b = append(b, 128)
		eachRun(func(c [3]byte, n int) {
			b = append(b, c[:]...)
			appendRun(n)
		})
	default:
		b = append(b, 0)
		for _, c := range px {
			b = append(b, c[:]...)
		}
	}
	return b
}

// Kinds of test image tiles besides those with a number of colours.
const (
	noisy = -1 // a random colour each pixel: raw
	runny = -2 // runs of random colours: plain RLE
)

// testImage returns a fuzzW×fuzzH image of 64×64 tiles, from y=10 on, whose colours make
// appendTile use every subencoding: packed palettes of 1, 2 and 4 bits among them.
func testImage(seed uint64) *image.RGBA {
	rng := rand.New(rand.NewPCG(seed, 1))
	random := func() [3]byte { return [3]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())} }
	kinds := []int{noisy, noisy, noisy, 2, 3, 1, 100, runny, noisy, 9, 2, noisy}
	img := image.NewRGBA(image.Rect(0, 0, fuzzW, fuzzH))
	i := 0
	for ty := 10 - zrleTile; ty < fuzzH; ty += zrleTile {
		for tx := 0; tx < fuzzW; tx += zrleTile {
			kind := kinds[i%len(kinds)]
			palette := make([][3]byte, max(kind, 1))
			for j := range palette {
				palette[j] = random()
			}
			c := palette[0]
			for y := max(ty, 0); y < min(ty+zrleTile, fuzzH); y++ {
				for x := tx; x < min(tx+zrleTile, fuzzW); x++ {
					switch {
					case kind == noisy || (kind == runny && rng.IntN(20) == 0):
						c = random()
					case kind > 0:
						c = palette[(x+y*3)%kind]
					}
					img.SetRGBA(x, y, color.RGBA{c[0], c[1], c[2], 0xff})
				}
			}
			i++
		}
	}
	return img
}

// decodeStream returns server messages that send an image as Raw, CopyRect and ZRLE (every
// subencoding, two rectangles on one zlib stream) between other messages, and the image.
func decodeStream() ([]byte, *image.RGBA) {
	img := testImage(1)
	var m msgBuilder
	m.b = append(m.b, msgBell, msgSetColourMap, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6)
	m.b = append(m.b, msgServerCutText, 0, 0, 0, 0, 0, 0, 2, 'h', 'i')
	m.update(2)
	m.raw(img, image.Rect(0, 0, fuzzW, 10))
	m.zrle(img, image.Rect(0, 10, 128, fuzzH))
	m.update(3)
	m.rect(image.Rect(1, 2, 3, 4), encCursor) // a 2×2 cursor: pixels, then a mask row each
	m.b = append(m.b, make([]byte, 2*2*4+2)...)
	m.zrle(img, image.Rect(128, 10, fuzzW, fuzzH))
	m.copyRect(image.Rect(0, 0, 60, 8), image.Pt(10, 1)) // overlapping source
	want := image.NewRGBA(img.Rect)
	copy(want.Pix, img.Pix)
	for y := 7; y >= 0; y-- {
		copy(want.Pix[want.PixOffset(0, y):want.PixOffset(60, y)], img.Pix[img.PixOffset(10, y+1):img.PixOffset(70, y+1)])
	}
	return m.b, want
}

// TestDecode checks every pixel of decodeStream's image.
func TestDecode(t *testing.T) {
	msgs, want := decodeStream()
	fb, err := serve(t, msgs, fuzzW)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("serve: %v, want io.EOF at the end", err)
	}
	if diff := compare(fb, want); diff != "" {
		t.Fatal(diff)
	}
}

// boundsCases are server messages that resize the desktop or break the bounds a malicious
// server meets; the framebuffer must end with size, serve with err.
var boundsCases = []struct {
	name string
	msgs func(m *msgBuilder)
	size image.Point
	err  error
}{
	{"DesktopSize", func(m *msgBuilder) { m.update(1); m.rect(image.Rect(0, 0, 30, 20), encDesktopSize) }, image.Pt(30, 20), io.EOF},
	{"ExtendedDesktopSize", func(m *msgBuilder) {
		m.update(1)
		m.rect(image.Rect(0, 0, 40, 50), encExtendedDesktopSize)
		m.b = append(m.b, 1, 0, 0, 0)
		m.b = append(m.b, make([]byte, 16)...)
	}, image.Pt(40, 50), io.EOF},
	{"too large", func(m *msgBuilder) { m.update(1); m.rect(image.Rect(0, 0, fuzzW+1, 20), encDesktopSize) }, image.Pt(fuzzW, fuzzH), errProtocol},
	{"empty", func(m *msgBuilder) { m.update(1); m.rect(image.Rect(0, 0, 0, 20), encDesktopSize) }, image.Pt(fuzzW, fuzzH), errProtocol},
	{"raw outside", func(m *msgBuilder) { m.update(1); m.rect(image.Rect(fuzzW-1, 0, fuzzW+1, 1), encRaw) }, image.Pt(fuzzW, fuzzH), errProtocol},
	{"copy from outside", func(m *msgBuilder) { m.update(1); m.copyRect(image.Rect(0, 0, 10, 10), image.Pt(0, fuzzH-9)) }, image.Pt(fuzzW, fuzzH), errProtocol},
	{"huge ZRLE", func(m *msgBuilder) {
		m.update(1)
		m.rect(image.Rect(0, 0, 1, 1), encZRLE)
		m.b = append(m.b, 0xff, 0xff, 0xff, 0xff)
	}, image.Pt(fuzzW, fuzzH), errProtocol},
	{"huge cursor", func(m *msgBuilder) { m.update(1); m.rect(image.Rect(0, 0, maxCursor+1, 1), encCursor) }, image.Pt(fuzzW, fuzzH), errProtocol},
	{"unknown encoding", func(m *msgBuilder) { m.update(1); m.rect(image.Rect(0, 0, 1, 1), 7) }, image.Pt(fuzzW, fuzzH), errProtocol},
	{"unknown message", func(m *msgBuilder) { m.b = append(m.b, 99) }, image.Pt(fuzzW, fuzzH), errProtocol},
	{"huge cut text", func(m *msgBuilder) { m.b = append(m.b, msgServerCutText, 0, 0, 0, 0xff, 0xff, 0xff, 0xff) }, image.Pt(fuzzW, fuzzH), io.EOF},
}

// TestDecodeResize checks DesktopSize and ExtendedDesktopSize, and the bounds a malicious server
// meets.
func TestDecodeResize(t *testing.T) {
	for _, tt := range boundsCases {
		t.Run(tt.name, func(t *testing.T) {
			var m msgBuilder
			tt.msgs(&m)
			fb, err := serve(t, m.b, fuzzW)
			if !errors.Is(err, tt.err) {
				t.Errorf("serve: %v, want %v", err, tt.err)
			}
			if fb.Rect.Size() != tt.size {
				t.Errorf("framebuffer %v, want %v", fb.Rect.Size(), tt.size)
			}
		})
	}
}

// FuzzServerMessages feeds arbitrary server messages after a handshake: the client must
// neither panic nor report damage outside the frame, and must fail only with a protocol error
// or the end of the data.
func FuzzServerMessages(f *testing.F) {
	f.Fuzz(func(t *testing.T, msgs []byte) {
		_, err := serve(t, msgs, 256)
		if !errors.Is(err, errProtocol) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("serve: %v", err)
		}
	})
}
