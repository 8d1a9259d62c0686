package cimg

/*
#cgo pkg-config: libwebp
#include <stdlib.h>
#include <string.h>
#include <webp/encode.h>

// encode_lossless encodes an RGBA image losslessly at the given effort (0 fastest .. 9) into
// *out (freed with WebPFree), returning its size, or 0 on error.
static size_t encode_lossless(const uint8_t* rgba, int w, int h, int stride, int level, uint8_t** out) {
	WebPConfig config;
	WebPPicture pic;
	WebPMemoryWriter wr;
	if (!WebPConfigInit(&config) || !WebPConfigLosslessPreset(&config, level)) return 0;
	config.exact = 0;
	if (!WebPPictureInit(&pic)) return 0;
	pic.use_argb = 1;
	pic.width = w;
	pic.height = h;
	if (!WebPPictureImportRGBX(&pic, rgba, stride)) return 0;
	WebPMemoryWriterInit(&wr);
	pic.writer = WebPMemoryWrite;
	pic.custom_ptr = &wr;
	int ok = WebPEncode(&config, &pic);
	WebPPictureFree(&pic);
	if (!ok) {
		WebPMemoryWriterClear(&wr);
		return 0;
	}
	*out = wr.mem;
	return wr.size;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// EncodeWebPLossless returns the lossless WebP of the w×h image in pix, alpha ignored, made
// with effort level (0, the fastest, to 9).
func EncodeWebPLossless(pix []byte, w, h, stride, level int) ([]byte, error) {
	if err := check(pix, w, h, stride); err != nil {
		return nil, err
	}
	var out *C.uint8_t
	n := C.encode_lossless((*C.uint8_t)(unsafe.Pointer(&pix[0])), C.int(w), C.int(h), C.int(stride), C.int(min(max(level, 0), 9)), &out)
	if n == 0 {
		return nil, fmt.Errorf("cimg: libwebp could not encode a %dx%d image", w, h)
	}
	defer C.WebPFree(unsafe.Pointer(out))
	return C.GoBytes(unsafe.Pointer(out), C.int(n)), nil
}
