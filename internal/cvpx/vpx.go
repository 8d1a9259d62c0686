package cvpx

/*
#cgo pkg-config: vpx
#include <stdlib.h>
#include <vpx/vpx_encoder.h>
#include <vpx/vpx_decoder.h>
#include <vpx/vp8cx.h>
#include <vpx/vp8dx.h>

static unsigned char clip8(int v) { return v < 0 ? 0 : v > 255 ? 255 : (unsigned char)v; }

// rgba_to_i420 converts opaque RGBA to BT.601 limited-range I420, chroma averaged over 2x2.
static void rgba_to_i420(const unsigned char *pix, int stride, vpx_image_t *img) {
	int w = img->d_w, h = img->d_h;
	for (int y = 0; y < h; y++) {
		const unsigned char *p = pix + (size_t)y * stride;
		unsigned char *Y = img->planes[VPX_PLANE_Y] + (size_t)y * img->stride[VPX_PLANE_Y];
		for (int x = 0; x < w; x++, p += 4)
			Y[x] = (unsigned char)(((66 * p[0] + 129 * p[1] + 25 * p[2] + 128) >> 8) + 16);
	}
	for (int y = 0; y < h; y += 2) {
		const unsigned char *p0 = pix + (size_t)y * stride;
		const unsigned char *p1 = y + 1 < h ? p0 + stride : p0;
		unsigned char *U = img->planes[VPX_PLANE_U] + (size_t)(y / 2) * img->stride[VPX_PLANE_U];
		unsigned char *V = img->planes[VPX_PLANE_V] + (size_t)(y / 2) * img->stride[VPX_PLANE_V];
		for (int x = 0; x < w; x += 2) {
			int x1 = x + 1 < w ? x + 1 : x;
			int r = p0[4 * x] + p0[4 * x1] + p1[4 * x] + p1[4 * x1];
			int g = p0[4 * x + 1] + p0[4 * x1 + 1] + p1[4 * x + 1] + p1[4 * x1 + 1];
			int b = p0[4 * x + 2] + p0[4 * x1 + 2] + p1[4 * x + 2] + p1[4 * x1 + 2];
			U[x / 2] = clip8(((-38 * r - 74 * g + 112 * b + 512) >> 10) + 128);
			V[x / 2] = clip8(((112 * r - 94 * g - 18 * b + 512) >> 10) + 128);
		}
	}
}

// i420_to_rgba converts a decoded BT.601 limited-range I420 image to opaque RGBA.
static void i420_to_rgba(const vpx_image_t *img, unsigned char *pix, int stride) {
	int w = img->d_w, h = img->d_h;
	for (int y = 0; y < h; y++) {
		const unsigned char *Y = img->planes[VPX_PLANE_Y] + (size_t)y * img->stride[VPX_PLANE_Y];
		const unsigned char *U = img->planes[VPX_PLANE_U] + (size_t)(y >> img->y_chroma_shift) * img->stride[VPX_PLANE_U];
		const unsigned char *V = img->planes[VPX_PLANE_V] + (size_t)(y >> img->y_chroma_shift) * img->stride[VPX_PLANE_V];
		unsigned char *p = pix + (size_t)y * stride;
		for (int x = 0; x < w; x++, p += 4) {
			int c = 298 * (Y[x] - 16), d = U[x >> img->x_chroma_shift] - 128, e = V[x >> img->x_chroma_shift] - 128;
			p[0] = clip8((c + 409 * e + 128) >> 8);
			p[1] = clip8((c - 100 * d - 208 * e + 128) >> 8);
			p[2] = clip8((c + 516 * d + 128) >> 8);
			p[3] = 255;
		}
	}
}

typedef struct {
	vpx_codec_ctx_t ctx;
	vpx_image_t *img;
	const vpx_codec_cx_pkt_t *pkt;
	vpx_codec_iter_t iter;
} encoder;

static encoder *enc_new(int w, int h, int kbps, int threads, int cpu, vpx_codec_err_t *err) {
	vpx_codec_enc_cfg_t cfg;
	*err = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0);
	if (*err) return NULL;
	cfg.g_w = w;
	cfg.g_h = h;
	cfg.g_timebase.num = 1;
	cfg.g_timebase.den = 1000;
	cfg.g_threads = threads;
	cfg.g_lag_in_frames = 0;
	cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT; // frames stay decodable when others are skipped
	cfg.rc_end_usage = VPX_CBR;
	cfg.rc_target_bitrate = kbps;
	cfg.rc_dropframe_thresh = 0;
	cfg.rc_min_quantizer = 4;
	cfg.rc_max_quantizer = 52;
	cfg.rc_undershoot_pct = 50;
	cfg.rc_overshoot_pct = 50;
	cfg.rc_buf_initial_sz = 500;
	cfg.rc_buf_optimal_sz = 600;
	cfg.rc_buf_sz = 1000;
	cfg.kf_mode = VPX_KF_DISABLED; // the caller asks for keyframes
	encoder *e = calloc(1, sizeof(encoder));
	if (!e) { *err = VPX_CODEC_MEM_ERROR; return NULL; }
	*err = vpx_codec_enc_init(&e->ctx, vpx_codec_vp8_cx(), &cfg, 0);
	if (*err) { free(e); return NULL; }
	vpx_codec_control(&e->ctx, VP8E_SET_CPUUSED, cpu);
	vpx_codec_control(&e->ctx, VP8E_SET_STATIC_THRESHOLD, 1);
	vpx_codec_control(&e->ctx, VP8E_SET_SCREEN_CONTENT_MODE, 1); // +0.5 dB on desktop video (docs/BENCHMARKS.md)
	vpx_codec_control(&e->ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
	vpx_codec_control(&e->ctx, VP8E_SET_TOKEN_PARTITIONS, threads > 1 ? 1 : 0);
	e->img = vpx_img_alloc(NULL, VPX_IMG_FMT_I420, w, h, 16);
	if (!e->img) { vpx_codec_destroy(&e->ctx); free(e); *err = VPX_CODEC_MEM_ERROR; return NULL; }
	return e;
}

// enc_frame converts and encodes one frame; the packets are then read with enc_next.
static vpx_codec_err_t enc_frame(encoder *e, const unsigned char *pix, int stride, long long pts, long flags) {
	rgba_to_i420(pix, stride, e->img);
	vpx_codec_err_t err = vpx_codec_encode(&e->ctx, e->img, pts, 1, flags, VPX_DL_REALTIME);
	e->iter = NULL;
	return err;
}

// enc_next returns the next frame packet of the last encode, or NULL.
static const vpx_codec_cx_pkt_t *enc_next(encoder *e) {
	const vpx_codec_cx_pkt_t *pkt;
	while ((pkt = vpx_codec_get_cx_data(&e->ctx, &e->iter)) != NULL)
		if (pkt->kind == VPX_CODEC_CX_FRAME_PKT) return pkt;
	return NULL;
}

static void *pkt_buf(const vpx_codec_cx_pkt_t *p) { return p->data.frame.buf; }
static size_t pkt_size(const vpx_codec_cx_pkt_t *p) { return p->data.frame.sz; }
static int pkt_key(const vpx_codec_cx_pkt_t *p) { return (p->data.frame.flags & VPX_FRAME_IS_KEY) != 0; }

static void enc_free(encoder *e) {
	vpx_img_free(e->img);
	vpx_codec_destroy(&e->ctx);
	free(e);
}

static vpx_codec_ctx_t *dec_new(vpx_codec_err_t *err) {
	vpx_codec_ctx_t *ctx = calloc(1, sizeof(vpx_codec_ctx_t));
	if (!ctx) { *err = VPX_CODEC_MEM_ERROR; return NULL; }
	vpx_codec_dec_cfg_t cfg = {.threads = 1};
	*err = vpx_codec_dec_init(ctx, vpx_codec_vp8_dx(), &cfg, 0);
	if (*err) { free(ctx); return NULL; }
	return ctx;
}

// dec_frame decodes one frame; it returns the decoded image, or NULL with *err set (or not, for
// a frame that shows nothing).
static vpx_image_t *dec_frame(vpx_codec_ctx_t *ctx, const unsigned char *data, unsigned int size, vpx_codec_err_t *err) {
	*err = vpx_codec_decode(ctx, data, size, NULL, 0);
	if (*err) return NULL;
	vpx_codec_iter_t iter = NULL;
	return vpx_codec_get_frame(ctx, &iter);
}

static void dec_free(vpx_codec_ctx_t *ctx) {
	vpx_codec_destroy(ctx);
	free(ctx);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"
)

// Layers is the number of temporal layers of every encoder's stream: frame n of a keyframe's
// period of four belongs to layer {0, 2, 1, 2}[n%4].
const Layers = 3

// layerOf is the temporal layer of the frames of a period.
var layerOf = [4]int{0, 2, 1, 2}

// ErrBadSize reports a frame whose size is not the encoder's, or a decoded frame whose size is
// not the one expected.
var ErrBadSize = errors.New("cvpx: bad frame size")

// ErrClosed reports a call on a closed encoder or decoder.
var ErrClosed = errors.New("cvpx: closed")

// EncoderConfig configures an Encoder.
type EncoderConfig struct {
	Width, Height int // the frame size, 1 to 16383 (VP8's limit)
	Kbps          int // the target bit rate, in kbit/s
	Threads       int // encoder threads, 1 or more
	// CPUUsed is libvpx's speed/quality knob for real time, -16 to 16 (higher is faster).
	CPUUsed int
}

// Frame is one encoded VP8 frame.
type Frame struct {
	Data []byte // the VP8 frame, Go memory
	Key  bool   // a keyframe: decodable alone
	// Layer is the frame's temporal layer: a layer 0 frame refers only to the previous layer 0
	// frame (or is a keyframe), and no frame refers to a layer 1 or 2 frame, so a receiver may
	// skip any frame of layer 1 or 2 and still decode every later one; it must not skip a
	// layer 0 frame.
	Layer int
}

// Encoder encodes RGBA frames of one size as VP8 in real time, with temporal layers (Frame).
// It is not safe for concurrent use; its C state is freed by Close, or when it is collected.
type Encoder struct {
	e       *encState
	cleanup runtime.Cleanup
	w, h    int
	n       int // frames since the last keyframe
	pts     int64
}

type encState struct{ e *C.encoder }

// NewEncoder returns an encoder for frames of cfg's size.
func NewEncoder(cfg EncoderConfig) (*Encoder, error) {
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > 16383 || cfg.Height > 16383 {
		return nil, fmt.Errorf("%w: %dx%d", ErrBadSize, cfg.Width, cfg.Height)
	}
	var cerr C.vpx_codec_err_t
	ce := C.enc_new(C.int(cfg.Width), C.int(cfg.Height), C.int(max(cfg.Kbps, 1)), C.int(max(cfg.Threads, 1)),
		C.int(min(max(cfg.CPUUsed, -16), 16)), &cerr)
	if ce == nil {
		return nil, fmt.Errorf("cvpx: encoder: %s", C.GoString(C.vpx_codec_err_to_string(cerr)))
	}
	e := &Encoder{e: &encState{e: ce}, w: cfg.Width, h: cfg.Height}
	e.cleanup = runtime.AddCleanup(e, func(s *encState) { C.enc_free(s.e) }, e.e)
	return e, nil
}

// Encode encodes the encoder-sized RGBA image in pix (alpha ignored) as the next frame, a
// keyframe if key is set or it is the first. ms is the frame's time in milliseconds,
// increasing.
func (e *Encoder) Encode(pix []byte, stride int, ms int64, key bool) (Frame, error) {
	if e.e.e == nil {
		return Frame{}, ErrClosed
	}
	if stride < 4*e.w || len(pix) < (e.h-1)*stride+4*e.w {
		return Frame{}, fmt.Errorf("%w: %d bytes with stride %d for %dx%d", ErrBadSize, len(pix), stride, e.w, e.h)
	}
	if e.pts == 0 {
		key = true
	}
	e.pts = max(ms, e.pts+1)
	if key {
		e.n = 0
	}
	layer := layerOf[e.n%4]
	var flags C.long = C.VP8_EFLAG_NO_REF_GF | C.VP8_EFLAG_NO_REF_ARF | C.VP8_EFLAG_NO_UPD_GF | C.VP8_EFLAG_NO_UPD_ARF
	switch {
	case key:
		flags |= C.VPX_EFLAG_FORCE_KF
	case layer > 0: // refers to the last layer 0 frame and updates nothing
		flags |= C.VP8_EFLAG_NO_UPD_LAST | C.VP8_EFLAG_NO_UPD_ENTROPY
	}
	defer runtime.KeepAlive(e)
	if rc := C.enc_frame(e.e.e, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride), C.longlong(e.pts), flags); rc != 0 {
		return Frame{}, fmt.Errorf("cvpx: encode: %s", C.GoString(C.vpx_codec_err_to_string(rc)))
	}
	var f Frame
	for pkt := C.enc_next(e.e.e); pkt != nil; pkt = C.enc_next(e.e.e) {
		f.Data = append(f.Data, unsafe.Slice((*byte)(C.pkt_buf(pkt)), int(C.pkt_size(pkt)))...)
		f.Key = f.Key || C.pkt_key(pkt) != 0
	}
	if len(f.Data) == 0 {
		return Frame{}, errors.New("cvpx: encode: no frame")
	}
	switch {
	case f.Key:
		e.n = 0 // a keyframe starts a period, asked for or not
	default:
		f.Layer = layer
	}
	e.n++
	return f, nil
}

// Close frees the encoder's C state; the encoder is unusable afterwards.
func (e *Encoder) Close() {
	if e.e.e != nil {
		e.cleanup.Stop()
		C.enc_free(e.e.e)
		e.e.e = nil
	}
}

// Decoder decodes VP8 frames to RGBA. It is not safe for concurrent use; its C state is freed
// by Close, or when it is collected.
type Decoder struct {
	d       *decState
	cleanup runtime.Cleanup
}

type decState struct{ ctx *C.vpx_codec_ctx_t }

// NewDecoder returns a decoder.
func NewDecoder() (*Decoder, error) {
	var cerr C.vpx_codec_err_t
	ctx := C.dec_new(&cerr)
	if ctx == nil {
		return nil, fmt.Errorf("cvpx: decoder: %s", C.GoString(C.vpx_codec_err_to_string(cerr)))
	}
	d := &Decoder{d: &decState{ctx: ctx}}
	d.cleanup = runtime.AddCleanup(d, func(s *decState) { C.dec_free(s.ctx) }, d.d)
	return d, nil
}

// Decode decodes one frame, which must be w×h, into the w×h RGBA image at pix with the given
// stride. Malformed data, or a frame of another size, is an error and leaves pix as it was.
func (d *Decoder) Decode(data []byte, pix []byte, w, h, stride int) error {
	if d.d.ctx == nil {
		return ErrClosed
	}
	if len(data) == 0 || w < 1 || h < 1 || stride < 4*w || len(pix) < (h-1)*stride+4*w {
		return fmt.Errorf("%w: %d bytes into %dx%d", ErrBadSize, len(data), w, h)
	}
	defer runtime.KeepAlive(d)
	var cerr C.vpx_codec_err_t
	img := C.dec_frame(d.d.ctx, (*C.uchar)(unsafe.Pointer(&data[0])), C.uint(len(data)), &cerr)
	switch {
	case cerr != 0:
		return fmt.Errorf("cvpx: decode: %s", C.GoString(C.vpx_codec_err_to_string(cerr)))
	case img == nil:
		return errors.New("cvpx: decode: no frame")
	case int(img.d_w) != w || int(img.d_h) != h || img.fmt != C.VPX_IMG_FMT_I420:
		return fmt.Errorf("%w: decoded %dx%d, want %dx%d", ErrBadSize, int(img.d_w), int(img.d_h), w, h)
	}
	C.i420_to_rgba(img, (*C.uchar)(unsafe.Pointer(&pix[0])), C.int(stride))
	return nil
}

// Close frees the decoder's C state; the decoder is unusable afterwards.
func (d *Decoder) Close() {
	if d.d.ctx != nil {
		d.cleanup.Stop()
		C.dec_free(d.d.ctx)
		d.d.ctx = nil
	}
}
