package client

import (
	"bytes"
	"image"
	"image/color"
	"image/draw"
	"testing"

	"github.com/rs/zerolog"

	"peerdesk/internal/cimg"
	"peerdesk/internal/cvpx"
	"peerdesk/relay/wire"
)

func TestFramebufferRefusesBadMessages(t *testing.T) {
	red := solid(color.RGBA{R: 255, A: 255})
	good := pngTile(t, 0, 0, 4, 4, red)
	cases := []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"unknown type", []byte{0x42}},
		{"short SIZE", []byte{wire.MsgSize, 0, 4}},
		{"SIZE too big", wire.EncodeSize(8193, 10)},
		{"FRAME too long", append(wire.EncodeFrame(1), 0)},
		{"TILES without records", wire.AppendTilesHeader(nil)},
		{"TILES truncated", tilesMsg(good)[:20]},
		{"TILES trailing bytes", append(tilesMsg(good), 0)},
		{"tile outside", tilesMsg(pngTile(t, 6, 0, 4, 4, red))},
		{"tile format 3", tilesMsg(wire.Tile{W: 4, H: 4, Format: 3, Data: good.Data})},
		{"PNG as JPEG", tilesMsg(wire.Tile{W: 4, H: 4, Format: wire.FormatJPEG, Data: good.Data})},
		{"PNG of another size", tilesMsg(wire.Tile{W: 2, H: 4, Format: wire.FormatPNG, Data: good.Data})},
		{"truncated PNG", tilesMsg(wire.Tile{W: 4, H: 4, Format: wire.FormatPNG, Data: good.Data[:len(good.Data)-8]})},
		{"too large", append([]byte{wire.MsgFrame}, make([]byte, wire.MaxMessage)...)},
		{"COPY from outside", wire.EncodeCopy(wire.Copy{SrcX: 4, SrcY: 0, W: 5, H: 2})},
		{"COPY to outside", wire.EncodeCopy(wire.Copy{W: 2, H: 2, DstX: 7, DstY: 7})},
		{"COPY truncated", wire.EncodeCopy(wire.Copy{W: 2, H: 2})[:12]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fb := newFramebuffer(zerolog.New(zerolog.NewTestWriter(t)), false, false)
			fb.apply(wire.EncodeSize(8, 8))
			fb.apply(c.msg)
			fb.apply(wire.EncodeFrame(1))
			st := fb.counters()
			if st.DecodeErrors != 1 || st.Messages != 3 || st.Frames != 1 {
				t.Errorf("stats %+v, want 1 error, 3 messages, 1 frame", st)
			}
			img, _, _ := fb.snapshot(true)
			checkImage(t, img, &model{w: 8, h: 8})
		})
	}
}

// TestFramebufferCopies: COPY moves pixels within the framebuffer, overlapping rectangles
// included, in either direction.
func TestFramebufferCopies(t *testing.T) {
	fb := newFramebuffer(zerolog.New(zerolog.NewTestWriter(t)), false, false)
	fb.apply(wire.EncodeSize(16, 16))
	fb.apply(tilesMsg(pngTile(t, 0, 0, 16, 16, pattern)))
	want := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			want.SetRGBA(x, y, pattern(x, y))
		}
	}
	for _, c := range []wire.Copy{
		{SrcX: 0, SrcY: 3, W: 16, H: 13, DstX: 0, DstY: 0}, // a scroll up
		{SrcX: 0, SrcY: 0, W: 16, H: 12, DstX: 0, DstY: 4}, // down
		{SrcX: 2, SrcY: 2, W: 9, H: 9, DstX: 5, DstY: 6},   // a window dragged
	} {
		fb.apply(wire.EncodeCopy(c))
		ref := image.NewRGBA(want.Rect)
		copy(ref.Pix, want.Pix)
		draw.Draw(want, image.Rect(c.DstX, c.DstY, c.DstX+c.W, c.DstY+c.H), ref, image.Pt(c.SrcX, c.SrcY), draw.Src)
	}
	img, _, _ := fb.snapshot(true)
	if !bytes.Equal(img.Pix, want.Pix) {
		t.Fatal("the framebuffer does not hold the copied pixels")
	}
	if st := fb.counters(); st.Copies != 3 || st.DecodeErrors != 0 {
		t.Errorf("stats %+v, want 3 copies and no error", st)
	}
}

// TestFramebufferDrawsWebP: a lossless WebP tile is drawn exactly.
func TestFramebufferDrawsWebP(t *testing.T) {
	want := image.NewRGBA(image.Rect(0, 0, 16, 8))
	for y := range 8 {
		for x := range 16 {
			want.SetRGBA(x, y, pattern(x, y))
		}
	}
	b, err := cimg.EncodeWebPLossless(want.Pix, 16, 8, want.Stride, 1)
	if err != nil {
		t.Fatal(err)
	}
	fb := newFramebuffer(zerolog.New(zerolog.NewTestWriter(t)), false, false)
	fb.apply(wire.EncodeSize(16, 8))
	fb.apply(tilesMsg(wire.Tile{W: 16, H: 8, Format: wire.FormatWebP, Data: b}))
	img, _, _ := fb.snapshot(true)
	if st := fb.counters(); st.DecodeErrors != 0 || !bytes.Equal(img.Pix, want.Pix) {
		t.Fatalf("stats %+v; the WebP tile is not drawn exactly", st)
	}
}

func TestFramebufferBeforeSize(t *testing.T) {
	fb := newFramebuffer(zerolog.New(zerolog.NewTestWriter(t)), false, false)
	fb.apply(wire.EncodeFrame(1))
	fb.apply(tilesMsg(pngTile(t, 0, 0, 1, 1, pattern)))
	if st := fb.counters(); st.DecodeErrors != 2 || st.Frames != 0 {
		t.Errorf("stats %+v, want 2 errors and no frame", st)
	}
	if img, _, _ := fb.snapshot(true); img != nil {
		t.Errorf("image %v before SIZE", img.Bounds())
	}
	if w, h := fb.size(); w != 0 || h != 0 {
		t.Errorf("size %dx%d before SIZE", w, h)
	}
}

// TestFramebufferWithoutPhotos: with skipPhotos, PNG tiles are drawn and JPEG tiles are counted
// without being decoded or drawn, even malformed ones.
func TestFramebufferWithoutPhotos(t *testing.T) {
	fb := newFramebuffer(zerolog.New(zerolog.NewTestWriter(t)), false, true)
	fb.apply(wire.EncodeSize(8, 8))
	red := color.RGBA{R: 255, A: 255}
	fb.apply(tilesMsg(pngTile(t, 0, 0, 4, 4, solid(red)), wire.Tile{X: 4, Y: 4, W: 4, H: 4, Format: wire.FormatJPEG, Data: []byte("not a JPEG")}))
	fb.apply(wire.EncodeFrame(1))
	if st := fb.counters(); st.DecodeErrors != 0 || st.Messages != 3 || st.Frames != 1 {
		t.Errorf("stats %+v, want no error, 3 messages, 1 frame", st)
	}
	img, _, _ := fb.snapshot(true)
	checkImage(t, img, &model{w: 8, h: 8, tiles: []modelTile{{0, 0, 4, 4, solid(red)}}})
}

// FuzzFramebuffer feeds arbitrary display messages after a SIZE: none may panic, and each is
// either applied or counted as an error.
func FuzzFramebuffer(f *testing.F) {
	tile := pngTile(f, 1, 1, 3, 2, pattern)
	for _, seed := range [][]byte{
		wire.EncodeSize(16, 16),
		wire.EncodeFrame(7),
		tilesMsg(tile),
		tilesMsg(tile, tile),
		{wire.MsgTiles, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0},
		wire.EncodeCopy(wire.Copy{SrcX: 0, SrcY: 2, W: 16, H: 14}),
		videoMsgs(f, 16, 16, 1)[0],
		videoMsgs(f, 8, 8, 1)[0][:30],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		fb := newFramebuffer(zerolog.Nop(), false, false)
		fb.apply(wire.EncodeSize(16, 16))
		fb.apply(msg)
		st := fb.counters()
		if st.Messages != 2 || st.DecodeErrors > 1 {
			t.Fatalf("stats %+v", st)
		}
		if w, h := fb.size(); w < 1 || h < 1 {
			t.Fatalf("size %dx%d", w, h)
		}
	})
}

func TestEventQueueDropsOldest(t *testing.T) {
	q := newEventQueue()
	for i := 0; i < eventBuffer+6; i++ {
		q.push(wire.Control{Type: "error", Width: i})
	}
	if d := q.dropped.Load(); d != 6 {
		t.Errorf("dropped %d, want 6", d)
	}
	for want := 6; want < eventBuffer+6; want++ {
		if ev := <-q.ch; ev.Width != want {
			t.Fatalf("event %d, want %d", ev.Width, want)
		}
	}
}

// videoMsgs returns the VIDEO messages of n frames of a w×h film at 0,0 (a keyframe first).
func videoMsgs(tb testing.TB, w, h, n int) [][]byte {
	tb.Helper()
	enc, err := cvpx.NewEncoder(cvpx.EncoderConfig{Width: w, Height: h, Kbps: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	defer enc.Close()
	var msgs [][]byte
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for p := 0; p < len(img.Pix); p += 4 {
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = byte(p/4%w*4+i), byte(p/4/w*4), 128, 255
		}
		fr, err := enc.Encode(img.Pix, img.Stride, int64(40*i), false)
		if err != nil {
			tb.Fatal(err)
		}
		m, err := wire.EncodeVideo(wire.Video{W: w, H: h, Frame: uint32(i), Key: fr.Key, Layer: fr.Layer}, fr.Data)
		if err != nil {
			tb.Fatal(err)
		}
		msgs = append(msgs, m...)
	}
	return msgs
}

// TestFramebufferVideo: VIDEO frames decode into their region; a frame without its keyframe
// is an error and draws nothing.
func TestFramebufferVideo(t *testing.T) {
	msgs := videoMsgs(t, 64, 48, 3)
	fb := newFramebuffer(zerolog.Nop(), false, false)
	fb.apply(wire.EncodeSize(80, 48))
	fb.apply(msgs[1]) // a delta frame first
	if st := fb.counters(); st.DecodeErrors != 1 || st.VideoFrames != 0 {
		t.Fatalf("a delta frame before its keyframe: %+v", st)
	}
	for _, m := range msgs {
		fb.apply(m)
	}
	img, _, _ := fb.snapshot(true)
	if st := fb.counters(); st.DecodeErrors != 1 || st.VideoFrames != 3 {
		t.Fatalf("three frames: %+v", st)
	}
	var se, n float64
	for y := range 48 {
		for x := range 64 {
			p := img.Pix[img.PixOffset(x, y):]
			for c, want := range [3]int{x*4 + 2, y * 4, 128} {
				d := float64(int(p[c]) - want)
				se, n = se+d*d, n+1
			}
		}
	}
	if mse := se / n; mse > 20 { // PSNR ≥ 35 dB
		t.Errorf("decoded frame: mean squared error %.1f", mse)
	}
	if p := img.Pix[img.PixOffset(70, 10):]; p[0] != 0 || p[1] != 0 || p[2] != 0 {
		t.Errorf("outside the region: %v", p[:4])
	}
	if fb.giveUpVideo() {
		t.Error("gave video up after one failure")
	}

	// Frames that keep failing: the peer gives video up, once.
	broken := newFramebuffer(zerolog.Nop(), false, false)
	broken.apply(wire.EncodeSize(80, 48))
	for range maxVideoFailures {
		broken.apply(msgs[2])
	}
	if !broken.giveUpVideo() || broken.giveUpVideo() || !broken.videoGivenUp() {
		t.Error("three frames in a row that fail do not make the peer give video up, once")
	}
}
