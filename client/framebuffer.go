package client

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"io"
	"slices"
	"sync"

	"github.com/rs/zerolog"
	"golang.org/x/image/webp"

	"peerdesk/internal/videoplay"
	"peerdesk/relay/wire"
)

// errDisplay marks a display message the framebuffer refused after wire decoding.
var errDisplay = errors.New("client: bad display message")

// framebuffer applies display messages (docs/PROTOCOL.md, 3.2) to an RGBA image and counts
// them. Messages come from one reader at a time; readers of the image copy it.
type framebuffer struct {
	log zerolog.Logger // sampled: a bad relay must not flood the log
	// countOnly skips decoding tile images and holds no pixels: the framebuffer keeps its size
	// and counts, and snapshots are transparent black.
	countOnly bool
	// skipPhotos leaves JPEG tiles undrawn (WithoutPhotoDecoding).
	skipPhotos bool

	mu      sync.Mutex
	img     *image.RGBA   // nil until the first SIZE
	stats   Stats         // EventsDropped is kept by the session
	frame   chan struct{} // closed and replaced at every FRAME
	cursor  *image.NRGBA  // the pointer shape, never modified; nil for none
	hotspot image.Point
	cursorC chan struct{} // closed and replaced at every CURSOR
	video   videoplay.Player
	// videoFailures counts the video frames in a row that did not decode; from
	// maxVideoFailures on, videoOff is set for good and the peer announces no VIDEO.
	videoFailures int
	videoOff      bool
}

// maxVideoFailures is how many video frames in a row may fail to decode before the peer gives
// video up and asks for tiles (docs/PROTOCOL.md, 3.2 CAPS).
const maxVideoFailures = 3

// giveUpVideo reports, once, that video frames keep failing to decode.
func (f *framebuffer) giveUpVideo() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.videoOff || f.videoFailures < maxVideoFailures {
		return false
	}
	f.videoOff = true
	return true
}

// videoGivenUp reports whether the peer gave video up.
func (f *framebuffer) videoGivenUp() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.videoOff
}

func newFramebuffer(log zerolog.Logger, countOnly, skipPhotos bool) *framebuffer {
	return &framebuffer{
		log:        log,
		countOnly:  countOnly,
		skipPhotos: skipPhotos,
		frame:      make(chan struct{}),
		cursorC:    make(chan struct{}),
	}
}

// apply decodes one display message and applies it; a message that cannot be decoded or
// applied is counted and logged, and changes nothing.
func (f *framebuffer) apply(msg []byte) {
	f.mu.Lock()
	f.stats.Messages++
	f.stats.Bytes += uint64(len(msg))
	w, h := f.sizeLocked()
	f.mu.Unlock()

	if err := f.applyDecoded(msg, w, h); err != nil {
		f.mu.Lock()
		f.stats.DecodeErrors++
		f.mu.Unlock()
		f.log.Warn().Err(err).Int("bytes", len(msg)).Msg("display: message dropped")
	}
}

func (f *framebuffer) applyDecoded(msg []byte, w, h int) error {
	d, err := wire.DecodeDisplay(msg, w, h)
	if err != nil {
		return err
	}
	switch d.Type {
	case wire.MsgSize:
		img := &image.RGBA{Rect: image.Rect(0, 0, d.Width, d.Height)} // count-only: no pixels
		if !f.countOnly {
			img = image.NewRGBA(img.Rect)
			draw.Draw(img, img.Rect, image.Black, image.Point{}, draw.Src)
		}
		f.mu.Lock()
		f.img = img
		f.video.Close()
		f.mu.Unlock()
	case wire.MsgTiles:
		if f.countOnly {
			return nil
		}
		imgs := make([]image.Image, len(d.Tiles))
		for i, t := range d.Tiles { // decoded outside the lock: Image() callers need not wait
			if f.skipPhotos && t.Format == wire.FormatJPEG {
				continue
			}
			if imgs[i], err = decodeTile(t); err != nil {
				return fmt.Errorf("tile %d: %w", i, err)
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if gw, gh := f.sizeLocked(); gw != w || gh != h {
			return fmt.Errorf("%w: desktop resized while decoding tiles", errDisplay)
		}
		for i, t := range d.Tiles {
			if imgs[i] == nil {
				continue
			}
			draw.Draw(f.img, image.Rect(t.X, t.Y, t.X+t.W, t.Y+t.H), imgs[i], imgs[i].Bounds().Min, draw.Src)
		}
	case wire.MsgCopy:
		c := d.Copy
		f.mu.Lock()
		defer f.mu.Unlock()
		if gw, gh := f.sizeLocked(); gw != w || gh != h {
			return fmt.Errorf("%w: desktop resized before a copy", errDisplay)
		}
		f.stats.Copies++
		if !f.countOnly { // the same image as source and destination: draw handles the overlap
			draw.Draw(f.img, image.Rect(c.DstX, c.DstY, c.DstX+c.W, c.DstY+c.H), f.img, image.Pt(c.SrcX, c.SrcY), draw.Src)
		}
	case wire.MsgVideo:
		return f.applyVideo(d.Video, w, h)
	case wire.MsgCursor:
		var shape *image.NRGBA
		if d.Cursor.W > 0 {
			if shape, err = decodeCursor(d.Cursor); err != nil {
				return err
			}
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.cursor, f.hotspot = shape, image.Pt(d.Cursor.HotX, d.Cursor.HotY)
		f.stats.Cursors++
		close(f.cursorC)
		f.cursorC = make(chan struct{})
	case wire.MsgFrame:
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.img == nil {
			return fmt.Errorf("%w: FRAME before SIZE", errDisplay)
		}
		f.stats.Frames++
		f.stats.LastSeq = d.Seq
		close(f.frame)
		f.frame = make(chan struct{})
	}
	return nil
}

// decodeTile decodes a tile's image after checking, from its header alone, that it has the
// record's dimensions, so that a small message cannot make the client allocate a huge image.
func decodeTile(t wire.Tile) (image.Image, error) {
	var decodeConfig func(io.Reader) (image.Config, error)
	var decode func(io.Reader) (image.Image, error)
	switch t.Format {
	case wire.FormatFill: // the wire decoder checked its length
		return image.NewUniform(color.RGBA{R: t.Data[0], G: t.Data[1], B: t.Data[2], A: 0xff}), nil
	case wire.FormatPNG:
		decodeConfig, decode = png.DecodeConfig, png.Decode
	case wire.FormatJPEG:
		decodeConfig, decode = jpeg.DecodeConfig, jpeg.Decode
	case wire.FormatWebP:
		decodeConfig, decode = webp.DecodeConfig, webp.Decode
	default:
		return nil, fmt.Errorf("%w: format %d", errDisplay, t.Format)
	}
	cfg, err := decodeConfig(bytes.NewReader(t.Data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errDisplay, err)
	}
	if cfg.Width != t.W || cfg.Height != t.H {
		return nil, fmt.Errorf("%w: image of %dx%d in a %dx%d record", errDisplay, cfg.Width, cfg.Height, t.W, t.H)
	}
	img, err := decode(bytes.NewReader(t.Data))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errDisplay, err)
	}
	if b := img.Bounds(); b.Dx() != t.W || b.Dy() != t.H {
		return nil, fmt.Errorf("%w: image of %dx%d in a %dx%d record", errDisplay, b.Dx(), b.Dy(), t.W, t.H)
	}
	return img, nil
}

// decodeCursor decodes a cursor's PNG, after checking its dimensions from its header alone.
func decodeCursor(c wire.Cursor) (*image.NRGBA, error) {
	img, err := decodeTile(wire.Tile{W: c.W, H: c.H, Format: wire.FormatPNG, Data: c.PNG})
	if err != nil {
		return nil, fmt.Errorf("cursor: %w", err)
	}
	shape := image.NewNRGBA(image.Rect(0, 0, c.W, c.H))
	draw.Draw(shape, shape.Rect, img, img.Bounds().Min, draw.Src)
	return shape, nil
}

// cursorState returns the pointer shape (nil for none; the caller must not modify it), its
// hotspot and a channel closed at the next CURSOR.
func (f *framebuffer) cursorState() (*image.NRGBA, image.Point, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cursor, f.hotspot, f.cursorC
}

func (f *framebuffer) sizeLocked() (w, h int) {
	if f.img == nil {
		return 0, 0
	}
	return f.img.Rect.Dx(), f.img.Rect.Dy()
}

// size returns the current desktop size, 0×0 before the first SIZE.
func (f *framebuffer) size() (w, h int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sizeLocked()
}

// snapshot returns a copy of the image (nil before the first SIZE), the number of frames, and
// a channel closed at the next FRAME.
func (f *framebuffer) snapshot(withImage bool) (img *image.RGBA, frames uint64, next <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case !withImage || f.img == nil:
	case f.countOnly:
		img = image.NewRGBA(f.img.Rect)
	default:
		img = &image.RGBA{Pix: slices.Clone(f.img.Pix), Stride: f.img.Stride, Rect: f.img.Rect}
	}
	return img, f.stats.Frames, f.frame
}

// counters returns the display counters.
func (f *framebuffer) counters() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// applyVideo takes one VIDEO message: the player gathers the frame's parts and decodes the
// frame into the framebuffer once it has them all. A peer that decodes no images (or no
// photographic ones) counts the frames and draws nothing.
func (f *framebuffer) applyVideo(v wire.Video, w, h int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gw, gh := f.sizeLocked(); gw != w || gh != h {
		return fmt.Errorf("%w: desktop resized before a video frame", errDisplay)
	}
	if f.countOnly || f.skipPhotos {
		if v.Part == v.Parts-1 {
			f.stats.VideoFrames++
		}
		return nil
	}
	done, err := f.video.Apply(v, f.img)
	switch {
	case done:
		f.stats.VideoFrames++
		f.videoFailures = 0
	case err != nil && v.Part == v.Parts-1 || errors.Is(err, videoplay.ErrNoKeyframe):
		f.videoFailures++
	}
	return err
}
