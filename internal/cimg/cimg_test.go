package cimg

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"

	"golang.org/x/image/webp"
)

// testImage returns a w×h image of text-like bands with a stride wider than its rows, and
// alpha left at 0 (the encoders ignore it).
func testImage(w, h int) ([]byte, int) {
	stride := 4*w + 12
	pix := make([]byte, stride*h)
	for y := range h {
		for x := range w {
			i := y*stride + 4*x
			pix[i], pix[i+1], pix[i+2] = uint8(x*7+y), uint8(y*3), uint8((x/4+y/6)%2*200)
		}
	}
	return pix, stride
}

func TestWebPLosslessRoundTrip(t *testing.T) {
	for _, size := range []image.Point{{64, 64}, {1, 1}, {37, 5}} {
		pix, stride := testImage(size.X, size.Y)
		b, err := EncodeWebPLossless(pix, size.X, size.Y, stride, 1)
		if err != nil {
			t.Fatal(err)
		}
		img, err := webp.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%v: decode: %v", size, err)
		}
		if img.Bounds().Size() != size {
			t.Fatalf("decoded %v, want %v", img.Bounds(), size)
		}
		for y := range size.Y {
			for x := range size.X {
				r, g, bl, a := img.At(x, y).RGBA()
				i := y*stride + 4*x
				if uint8(r>>8) != pix[i] || uint8(g>>8) != pix[i+1] || uint8(bl>>8) != pix[i+2] || a != 0xffff {
					t.Fatalf("%v: pixel %d,%d is %v, want %v opaque", size, x, y, img.At(x, y), pix[i:i+3])
				}
			}
		}
	}
}

func TestTurboJPEG(t *testing.T) {
	e, err := NewJPEGEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pix, stride := testImage(64, 48)
	b, err := e.Encode(pix, 64, 48, stride, 90)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var sum, n int
	for y := range 48 {
		for x := range 64 {
			r, g, bl, _ := img.At(x, y).RGBA()
			i := y*stride + 4*x
			for c, v := range []uint32{r, g, bl} {
				d := int(v>>8) - int(pix[i+c])
				sum, n = sum+max(d, -d), n+1
			}
		}
	}
	if mean := float64(sum) / float64(n); mean > 8 {
		t.Errorf("mean error %.1f at quality 90", mean)
	}
	small, _ := e.Encode(pix, 64, 48, stride, 10)
	if len(small) >= len(b) {
		t.Errorf("quality 10 gives %d bytes, quality 90 %d", len(small), len(b))
	}
}

func TestBadImages(t *testing.T) {
	e, err := NewJPEGEncoder()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	pix := make([]byte, 4*8*8)
	for _, c := range []struct{ w, h, stride int }{{0, 8, 32}, {8, 0, 32}, {8, 8, 31}, {8, 9, 32}} {
		if _, err := EncodeWebPLossless(pix, c.w, c.h, c.stride, 1); !errors.Is(err, ErrBadImage) {
			t.Errorf("WebP of %+v: %v", c, err)
		}
		if _, err := e.Encode(pix, c.w, c.h, c.stride, 80); !errors.Is(err, ErrBadImage) {
			t.Errorf("JPEG of %+v: %v", c, err)
		}
	}
}
