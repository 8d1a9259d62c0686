package cimg

/*
#cgo pkg-config: libturbojpeg
#include <turbojpeg.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// JPEGEncoder encodes JPEG with libjpeg-turbo. It is not safe for concurrent use; its C
// handle is freed by Close, or when the encoder is collected.
type JPEGEncoder struct {
	h       *handle
	cleanup runtime.Cleanup
}

type handle struct{ tj C.tjhandle }

// NewJPEGEncoder returns an encoder.
func NewJPEGEncoder() (*JPEGEncoder, error) {
	tj := C.tjInitCompress()
	if tj == nil {
		return nil, errors.New("cimg: tjInitCompress failed")
	}
	e := &JPEGEncoder{h: &handle{tj: tj}}
	e.cleanup = runtime.AddCleanup(e, func(h *handle) { C.tjDestroy(h.tj) }, e.h)
	return e, nil
}

// Encode returns the JPEG of the w×h image in pix, alpha ignored, at quality (1..100), with
// 4:2:0 chroma and the fast DCT.
func (e *JPEGEncoder) Encode(pix []byte, w, h, stride, quality int) ([]byte, error) {
	if err := check(pix, w, h, stride); err != nil {
		return nil, err
	}
	defer runtime.KeepAlive(e) // its cleanup must not free the handle during the call
	var out *C.uchar
	var size C.ulong
	rc := C.tjCompress2(e.h.tj, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(w), C.int(stride), C.int(h), C.TJPF_RGBX,
		&out, &size, C.TJSAMP_420, C.int(min(max(quality, 1), 100)), C.TJFLAG_FASTDCT)
	if out != nil {
		defer C.tjFree(out)
	}
	if rc != 0 {
		return nil, fmt.Errorf("cimg: TurboJPEG: %s", C.GoString(C.tjGetErrorStr2(e.h.tj)))
	}
	return C.GoBytes(unsafe.Pointer(out), C.int(size)), nil
}

// Close frees the encoder's C handle; the encoder is unusable afterwards.
func (e *JPEGEncoder) Close() {
	if e.h.tj != nil {
		e.cleanup.Stop()
		C.tjDestroy(e.h.tj)
		e.h.tj = nil
	}
}
