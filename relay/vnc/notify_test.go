package vnc

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// recorder is a server that keeps what the client writes.
type recorder struct{ bytes.Buffer }

func (*recorder) SetWriteDeadline(time.Time) error { return nil }
func (*recorder) Close() error                     { return nil }

// notified is what a connection reported besides pixels.
type notified struct {
	shapes   []*image.NRGBA
	hotspots []image.Point
	texts    []string
}

// serveNotify runs a connection over the handshake and msgs, recording its reports and what it
// wrote after the handshake.
func serveNotify(t *testing.T, msgs []byte) (*notified, *conn, *recorder, error) {
	t.Helper()
	got := &notified{}
	w := &recorder{}
	c := &conn{
		r:            bufio.NewReader(io.MultiReader(bytes.NewReader(serverHello()), bytes.NewReader(msgs))),
		w:            w,
		log:          zerolog.New(zerolog.NewTestWriter(t)),
		maxDim:       fuzzW,
		writeTimeout: time.Second,
		notify: notifier{
			cursor: func(shape *image.NRGBA, hotspot image.Point) {
				got.shapes = append(got.shapes, shape)
				got.hotspots = append(got.hotspots, hotspot)
			},
			clipboard: func(text string) { got.texts = append(got.texts, text) },
		},
	}
	if err := c.handshake("", nil, defaultEncodings); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	w.Reset()
	err := c.serve(func(*image.RGBA, []image.Rectangle) {})
	return got, c, w, err
}

func cutText(latin1 []byte) []byte {
	b := binary.BigEndian.AppendUint32([]byte{msgServerCutText, 0, 0, 0}, uint32(len(latin1)))
	return append(b, latin1...)
}

// TestCursorAndCutText checks the shapes and clipboard texts a server's messages report: the
// cursor's colours and bitmask become an image with alpha, Latin-1 cut text becomes UTF-8 cut at
// wire.MaxClipboard bytes (on a character boundary), and an empty cursor hides the pointer.
func TestCursorAndCutText(t *testing.T) {
	var m msgBuilder
	m.update(1)
	m.rect(image.Rect(2, 1, 2+10, 1+2), encCursor) // 10×2, hotspot 2,1
	red, blue := []byte{0xff, 0, 0, 0}, []byte{0, 0, 0xff, 0}
	for i := range 20 {
		if i%2 == 0 {
			m.b = append(m.b, red...)
		} else {
			m.b = append(m.b, blue...)
		}
	}
	m.b = append(m.b, 0b1010_0000, 0b1100_0000, 0xff, 0xff) // two bytes of mask a row
	m.b = append(m.b, cutText([]byte("caf\xe9 \xa9"))...)
	m.b = append(m.b, cutText(bytes.Repeat([]byte{0xe9}, wire.MaxClipboard))...) // 2 bytes each in UTF-8
	m.update(1)
	m.rect(image.Rect(0, 0, 0, 0), encCursor)

	got, _, _, err := serveNotify(t, m.b)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("serve: %v, want io.EOF at the end", err)
	}
	if len(got.shapes) != 2 || !got.shapes[1].Rect.Empty() {
		t.Fatalf("got %d shapes, want 2, the last empty", len(got.shapes))
	}
	shape := got.shapes[0]
	if shape.Rect != image.Rect(0, 0, 10, 2) || got.hotspots[0] != image.Pt(2, 1) {
		t.Fatalf("shape %v hotspot %v, want 10x2 at 2,1", shape.Rect, got.hotspots[0])
	}
	opaque := map[image.Point]bool{{0, 0}: true, {2, 0}: true, {8, 0}: true, {9, 0}: true}
	for x := range 10 {
		opaque[image.Pt(x, 1)] = true
	}
	for y := range 2 {
		for x := range 10 {
			want := color.NRGBA{R: 0xff, A: 0}
			if x%2 == 1 {
				want = color.NRGBA{B: 0xff, A: 0}
			}
			if opaque[image.Pt(x, y)] {
				want.A = 0xff
			}
			if c := shape.NRGBAAt(x, y); c != want {
				t.Errorf("cursor pixel %d,%d is %v, want %v", x, y, c, want)
			}
		}
	}
	if len(got.texts) != 2 || got.texts[0] != "café ©" {
		t.Fatalf("clipboard texts %q", got.texts[:min(1, len(got.texts))])
	}
	if long := got.texts[1]; len(long) != wire.MaxClipboard || !utf8.ValidString(long) || strings.Trim(long, "é") != "" {
		t.Errorf("long clipboard text of %d bytes, want %d of é", len(long), wire.MaxClipboard)
	}
}

// TestClientCutText checks the ClientCutText a clipboard input sends: Latin-1, '?' for what
// Latin-1 lacks, LF line ends.
func TestClientCutText(t *testing.T) {
	_, c, w, err := serveNotify(t, nil)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("serve: %v", err)
	}
	if err := c.input(wire.Input{Type: wire.MsgClipboard, Text: "façade ✓\r\nnext"}); err != nil {
		t.Fatal(err)
	}
	latin1 := []byte("fa\xe7ade ?\nnext")
	want := append(binary.BigEndian.AppendUint32([]byte{cmdClientCutText, 0, 0, 0}, uint32(len(latin1))), latin1...)
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("wrote %q, want %q", w.Bytes(), want)
	}
}
