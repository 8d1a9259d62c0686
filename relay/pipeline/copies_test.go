package pipeline

import (
	"bytes"
	"image"
	"image/draw"
	"sync/atomic"
	"testing"

	"peerdesk/relay/wire"
)

// paletteText fills r of img with a lossless pattern of few colours (at most 160 a tile) whose
// rows differ from each other, 480 rows before one repeats, as lines of text do: a peer
// holding it shows it exactly.
func paletteText(img *image.RGBA, r image.Rectangle, seed int) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		k := (y + 97*seed) * 7919 % 480 // a different pattern for each row
		a, g, shift := k%40, uint8(k/40%4*64), k/160
		for x := r.Min.X; x < r.Max.X; x++ {
			v := uint8(((x+shift)/3*7 + a) % 40 * 6)
			i := img.PixOffset(x, y)
			img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3] = v, g, v/2, 0xff
		}
	}
}

// scroll moves the rows of img up by dy, as a terminal does, paints new rows at the bottom and
// returns the damage a VNC server reports with its CopyRect.
func scroll(img *image.RGBA, dy, seed int) []image.Rectangle {
	b := img.Rect
	dst := image.Rect(0, 0, b.Dx(), b.Dy()-dy)
	draw.Draw(img, dst, img, image.Pt(0, dy), draw.Src)
	fresh := image.Rect(0, b.Dy()-dy, b.Dx(), b.Dy())
	paletteText(img, fresh, seed)
	return []image.Rectangle{dst, fresh}
}

// startCopyPeers starts a pipeline of cfg on a w×h frame of text and two peers that hold it:
// the first announced caps, the second nothing.
func startCopyPeers(t *testing.T, cfg Config, w, h int, caps uint32) (*Pipeline, []*fakePeer, []*PeerStream, *image.RGBA) {
	t.Helper()
	p := newTestPipeline(t, cfg)
	peers := []*fakePeer{newFakePeer(t), newFakePeer(t)}
	announced := new(atomic.Uint32)
	announced.Store(caps)
	streams := []*PeerStream{p.AddPeer(peers[0], PeerOptions{Caps: announced}), p.AddPeer(peers[1], PeerOptions{})}
	frame := image.NewRGBA(image.Rect(0, 0, w, h))
	paletteText(frame, frame.Rect, 0)
	p.Update(frame, nil)
	for _, f := range peers {
		f.waitSeq(1)
	}
	return p, peers, streams, frame
}

func assertExact(t *testing.T, host *image.RGBA, f *fakePeer, who string) {
	t.Helper()
	got, _ := f.framebuffer()
	if got == nil || !bytes.Equal(got.Pix, host.Pix) {
		t.Fatalf("%s does not show the host's pixels", who)
	}
}

// TestPipelineCopies: a scroll reported with Copy reaches a peer that announced CapCopy as one
// COPY plus the tiles of the new rows, and a peer that did not as tiles; both end with the
// host's pixels exactly. Copies that depend on each other, and one the final frame contradicts,
// still converge.
func TestPipelineCopies(t *testing.T) {
	p, peers, streams, frame := startCopyPeers(t, Config{TileSize: 16}, 128, 128, wire.CapCopy|1<<31) // bits it does not know are ignored
	copier, plain := peers[0], peers[1]
	tiles0 := []uint64{streams[0].Stats().TilesSent, streams[1].Stats().TilesSent}

	// A scroll by 20 rows: the destination covers tile rows 0-5 and part of row 6, the new
	// rows touch rows 6 and 7.
	damage := scroll(frame, 20, 1)
	p.Copy(image.Rect(0, 20, 128, 128), image.Pt(0, 0))
	p.Update(frame, damage)
	for i, f := range peers {
		f.waitSeq(2)
		assertExact(t, frame, f, []string{"the copying peer", "the plain peer"}[i])
	}
	st0, st1 := streams[0].Stats(), streams[1].Stats()
	if st0.Copies != 1 || st0.TilesSent-tiles0[0] != 16 {
		t.Errorf("copying peer: %d copies and %d tiles for the scroll, want 1 and the 16 of the new rows", st0.Copies, st0.TilesSent-tiles0[0])
	}
	if st1.Copies != 0 || st1.TilesSent-tiles0[1] != 64 || plain.copies != 0 {
		t.Errorf("plain peer: %d copies and %d tiles, want 0 and 64", st1.Copies, st1.TilesSent-tiles0[1])
	}

	// Two copies in one update, the second moving what the first wrote, then one whose
	// destination the frame contradicts (the source lied): the frame wins.
	d1 := scroll(frame, 16, 2)
	d2 := scroll(frame, 8, 3)
	p.Copy(image.Rect(0, 16, 128, 128), image.Pt(0, 0))
	p.Copy(image.Rect(0, 8, 128, 128), image.Pt(0, 0))
	p.Update(frame, append(d1, d2...))
	p.Copy(image.Rect(0, 0, 64, 64), image.Pt(64, 64))
	paletteText(frame, image.Rect(0, 0, 32, 32), 4) // and not the copy it claimed
	p.Update(frame, []image.Rectangle{image.Rect(0, 0, 32, 32), image.Rect(64, 64, 128, 128)})
	seq := p.Stats().Seq
	for i, f := range peers {
		f.waitSeq(seq)
		assertExact(t, frame, f, []string{"the copying peer", "the plain peer"}[i])
	}
	if n := streams[0].Stats().Copies; n != 4 || copier.copies != 4 {
		t.Errorf("copying peer: %d copies sent, %d applied, want 4", n, copier.copies)
	}

	// A peer that joins now holds nothing to copy from: it gets tiles.
	late := newFakePeer(t)
	lateCaps := new(atomic.Uint32)
	lateCaps.Store(wire.CapCopy)
	ls := p.AddPeer(late, PeerOptions{Caps: lateCaps})
	late.waitSeq(seq)
	if n := ls.Stats().Copies; n != 0 {
		t.Errorf("the late peer got %d copies", n)
	}
	assertExact(t, frame, late, "the late peer")
}

// TestPipelineDetectsScrolls: a scroll that the source does not report is found in the damage
// (here as narrow strips, as TigerVNC reports a terminal) and reaches the copying peer as a
// COPY and the tiles of the new rows only; a change that is no scroll makes no copy.
func TestPipelineDetectsScrolls(t *testing.T) {
	p, peers, streams, frame := startCopyPeers(t, Config{}, 512, 256, wire.CapCopy)
	tiles0 := []uint64{streams[0].Stats().TilesSent, streams[1].Stats().TilesSent}
	scroll(frame, 20, 1)
	var strips []image.Rectangle
	for x := 0; x < 512; x += 32 {
		strips = append(strips, image.Rect(x, 0, x+32, 256))
	}
	p.Update(frame, strips)
	for _, f := range peers {
		f.waitSeq(2)
		assertExact(t, frame, f, "a peer")
	}
	st0, st1 := streams[0].Stats(), streams[1].Stats()
	// The bottom tile row holds the new rows: 8 tiles; the plain peer gets all 32.
	if st0.Copies != 1 || st0.TilesSent-tiles0[0] != 8 || st1.TilesSent-tiles0[1] != 32 {
		t.Errorf("copying peer: %d copies, %d tiles; plain peer %d tiles; want 1, 8 and 32", st0.Copies, st0.TilesSent-tiles0[0], st1.TilesSent-tiles0[1])
	}
	paletteText(frame, frame.Rect, 7) // new content everywhere: nothing moved
	p.Update(frame, []image.Rectangle{frame.Rect})
	peers[0].waitSeq(3)
	assertExact(t, frame, peers[0], "the copying peer")
	if n := streams[0].Stats().Copies; n != 1 {
		t.Errorf("%d copies after a change that is no scroll", n)
	}
}
