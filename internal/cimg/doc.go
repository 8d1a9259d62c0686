// Package cimg binds the C image encoders the relay uses where they beat Go's own: libwebp's
// lossless WebP and libjpeg-turbo's TurboJPEG, from Debian's libwebp-dev and libturbojpeg0-dev
// (cgo, pkg-config). Images are opaque RGBA (alpha ignored), given as a pixel slice, a width,
// a height and a stride.
package cimg

import (
	"errors"
	"fmt"
)

// ErrBadImage reports pixels that do not hold the image they are said to.
var ErrBadImage = errors.New("cimg: bad image")

// check reports whether pix holds a w×h image of the given stride.
func check(pix []byte, w, h, stride int) error {
	if w < 1 || h < 1 || stride < 4*w || len(pix) < (h-1)*stride+4*w {
		return fmt.Errorf("%w: %d bytes for %dx%d with stride %d", ErrBadImage, len(pix), w, h, stride)
	}
	return nil
}
