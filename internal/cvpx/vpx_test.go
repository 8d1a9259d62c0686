package cvpx

import (
	"errors"
	"image"
	"testing"

	"peerdesk/internal/imgcmp"
)

// scene draws frame n of a test video: a smooth gradient that drifts and a bright square that
// moves, w×h RGBA.
func scene(n, w, h int) []byte {
	pix := make([]byte, 4*w*h)
	for y := range h {
		for x := range w {
			p := pix[4*(y*w+x):]
			p[0], p[1], p[2], p[3] = byte(x+2*n), byte(y+n), byte((x+y)/2), 255
			if x >= 10+4*n && x < 40+4*n && y >= 20 && y < 50 {
				p[0], p[1], p[2] = 250, 240, 30
			}
		}
	}
	return pix
}

// psnr is the PSNR of the RGB channels of the w×h RGBA pixels b against a, in dB.
func psnr(a, b []byte, w, h int) float64 {
	r := image.Rect(0, 0, w, h)
	return imgcmp.PSNR(&image.RGBA{Pix: a, Stride: 4 * w, Rect: r}, &image.RGBA{Pix: b, Stride: 4 * w, Rect: r}, r)
}

func TestEncodeDecode(t *testing.T) {
	const w, h, frames = 160, 96, 24
	enc, err := NewEncoder(EncoderConfig{Width: w, Height: h, Kbps: 2000, Threads: 1, CPUUsed: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	all, base := mustDecoder(t), mustDecoder(t) // base gets layer 0 only
	out, outBase := make([]byte, 4*w*h), make([]byte, 4*w*h)
	var layers [Layers]int
	for n := range frames {
		src := scene(n, w, h)
		f, err := enc.Encode(src, 4*w, int64(40*n), n == 12)
		if err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		if want := n == 0 || n == 12; f.Key != want {
			t.Fatalf("frame %d: key %v, want %v", n, f.Key, want)
		}
		if want := layerOf[n%12%4]; !f.Key && f.Layer != want {
			t.Fatalf("frame %d: layer %d, want %d", n, f.Layer, want)
		}
		layers[f.Layer]++
		if err := all.Decode(f.Data, out, w, h, 4*w); err != nil {
			t.Fatalf("frame %d: %v", n, err)
		}
		if q := psnr(src, out, w, h); q < 35 {
			t.Errorf("frame %d: PSNR %.1f dB, want ≥ 35", n, q)
		}
		if f.Layer != 0 {
			continue
		}
		if err := base.Decode(f.Data, outBase, w, h, 4*w); err != nil {
			t.Fatalf("frame %d, layer 0 only: %v", n, err)
		}
		if q := psnr(src, outBase, w, h); q < 35 {
			t.Errorf("frame %d, layer 0 only: PSNR %.1f dB, want ≥ 35", n, q)
		}
	}
	if layers != [Layers]int{6, 6, 12} { // per period of 12: a keyframe and 2 more of layer 0, 3 of layer 1, 6 of 2
		t.Errorf("frames per layer %v", layers)
	}
}

func mustDecoder(t *testing.T) *Decoder {
	t.Helper()
	d, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func TestBadInput(t *testing.T) {
	if _, err := NewEncoder(EncoderConfig{Width: 0, Height: 10}); !errors.Is(err, ErrBadSize) {
		t.Errorf("0x10 encoder: %v", err)
	}
	enc, err := NewEncoder(EncoderConfig{Width: 33, Height: 17, Kbps: 500}) // odd sizes are fine
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(make([]byte, 10), 4*33, 0, false); !errors.Is(err, ErrBadSize) {
		t.Errorf("short frame: %v", err)
	}
	f, err := enc.Encode(scene(0, 33, 17), 4*33, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	d := mustDecoder(t)
	pix := make([]byte, 4*64*64)
	if err := d.Decode(f.Data, pix, 32, 17, 4*64); !errors.Is(err, ErrBadSize) {
		t.Errorf("decode into another size: %v", err)
	}
	if err := d.Decode([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, pix, 33, 17, 4*64); err == nil {
		t.Error("decoded garbage")
	}
	if err := d.Decode(f.Data, pix, 33, 17, 4*64); err != nil {
		t.Errorf("keyframe after garbage: %v", err)
	}
	if q := psnr(cropped(pix, 64, 33, 17), scene(0, 33, 17), 33, 17); q < 30 {
		t.Errorf("odd-sized frame: PSNR %.1f dB", q)
	}
	enc.Close()
	d.Close()
	if _, err := enc.Encode(scene(0, 33, 17), 4*33, 40, false); !errors.Is(err, ErrClosed) {
		t.Errorf("encode after Close: %v", err)
	}
	if err := d.Decode(f.Data, pix, 33, 17, 4*64); !errors.Is(err, ErrClosed) {
		t.Errorf("decode after Close: %v", err)
	}
}

// cropped returns the w×h top-left corner of an RGBA image of width stridePx.
func cropped(pix []byte, stridePx, w, h int) []byte {
	out := make([]byte, 0, 4*w*h)
	for y := range h {
		out = append(out, pix[4*y*stridePx:4*(y*stridePx+w)]...)
	}
	return out
}
