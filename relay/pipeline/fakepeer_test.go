package pipeline

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
	"sync"
	"testing"
	"time"

	"peerdesk/internal/videoplay"
	"peerdesk/relay/wire"

	"golang.org/x/image/webp"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 20 * time.Second

// tileKey names one encoded tile a peer received.
type tileKey struct {
	x, y int
	sum  [32]byte
}

// fakePeer is an in-memory display channel: it decodes what it receives into its own
// framebuffer, as a browser does. Paused, it stops reading: messages pile up in its buffer,
// which BufferedAmount reports, until resume applies them.
type fakePeer struct {
	t *testing.T

	mu          sync.Mutex
	changed     chan struct{} // closed and replaced on every message
	fb          *image.RGBA
	formats     map[image.Point]wire.Format // the format of the last tile received at each place
	received    map[tileKey]bool
	log         []byte // the type of every message applied, in order
	coverage    []image.Rectangle
	sizes       int
	frames      int
	lastSeq     uint32
	cursorW     int // the width of the last cursor received
	copies      int // COPY messages applied
	player      videoplay.Player
	videoFrames int         // video frames decoded
	videoRegion *image.RGBA // a copy of the region after the last video frame decoded
	layers      [wire.VideoLayers]int
	tilesSince  map[image.Point]bool // tiles applied since the last video frame, by place
	skipJPEG    bool                 // leave photographic tiles undecoded (tests that look only at flat ones)
	paused      bool
	queue       [][]byte
	buffered    uint64
	maxBuffered uint64
	sendErr     error
}

func newFakePeer(t *testing.T) *fakePeer {
	return &fakePeer{
		t:        t,
		changed:  make(chan struct{}),
		formats:  make(map[image.Point]wire.Format),
		received: make(map[tileKey]bool),

		tilesSince: make(map[image.Point]bool),
	}
}

// Send implements Sender.
func (f *fakePeer) Send(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sendErr != nil {
		return f.sendErr
	}
	if len(b) > wire.MaxMessage {
		f.t.Errorf("message of %d bytes", len(b))
	}
	if f.paused {
		f.queue = append(f.queue, bytes.Clone(b))
		f.buffered += uint64(len(b))
		f.maxBuffered = max(f.maxBuffered, f.buffered)
		close(f.changed)
		f.changed = make(chan struct{})
		return nil
	}
	f.apply(b)
	return nil
}

// BufferedAmount implements Sender.
func (f *fakePeer) BufferedAmount() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buffered
}

// SetBufferedAmountLowThreshold implements Sender: resume wakes the stream.
func (f *fakePeer) SetBufferedAmountLowThreshold(uint64) {}

func (f *fakePeer) pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = true
}

// resume applies the queued messages and then wakes s, as OnBufferedAmountLow would.
func (f *fakePeer) resume(s *PeerStream) {
	f.mu.Lock()
	for _, b := range f.queue {
		f.apply(b)
	}
	f.queue, f.buffered, f.paused = nil, 0, false
	f.mu.Unlock()
	s.Wake()
}

// apply decodes one message into the framebuffer; f.mu is held.
func (f *fakePeer) apply(b []byte) {
	defer func() {
		close(f.changed)
		f.changed = make(chan struct{})
	}()
	var w, h int
	if f.fb != nil {
		w, h = f.fb.Rect.Dx(), f.fb.Rect.Dy()
	}
	d, err := wire.DecodeDisplay(b, w, h)
	if err != nil {
		f.t.Errorf("decode display message: %v", err)
		return
	}
	f.log = append(f.log, d.Type)
	switch d.Type {
	case wire.MsgSize:
		f.sizes++
		f.player.Close()
		f.fb = image.NewRGBA(image.Rect(0, 0, d.Width, d.Height))
		draw.Draw(f.fb, f.fb.Rect, image.Black, image.Point{}, draw.Src)
		f.coverage = nil
	case wire.MsgFrame:
		f.frames++
		f.lastSeq = d.Seq
	case wire.MsgCursor:
		f.cursorW = d.Cursor.W
	case wire.MsgTiles:
		for _, t := range d.Tiles {
			f.applyTile(t)
		}
	case wire.MsgCopy:
		c := d.Copy
		f.copies++
		draw.Draw(f.fb, image.Rect(c.DstX, c.DstY, c.DstX+c.W, c.DstY+c.H), f.fb, image.Pt(c.SrcX, c.SrcY), draw.Src)
	case wire.MsgVideo:
		v := d.Video
		done, err := f.player.Apply(v, f.fb)
		if err != nil {
			f.t.Errorf("video frame %d part %d: %v", v.Frame, v.Part, err)
		}
		if done {
			f.videoFrames++
			f.layers[v.Layer]++
			r := image.Rect(v.X, v.Y, v.X+v.W, v.Y+v.H)
			f.videoRegion = image.NewRGBA(r)
			draw.Draw(f.videoRegion, r, f.fb, r.Min, draw.Src)
			clear(f.tilesSince)
		}
	}
}

func (f *fakePeer) applyTile(t wire.Tile) {
	var img image.Image
	var err error
	switch t.Format {
	case wire.FormatFill:
		img = image.NewUniform(color.RGBA{R: t.Data[0], G: t.Data[1], B: t.Data[2], A: 0xff})
	case wire.FormatPNG:
		img, err = png.Decode(bytes.NewReader(t.Data))
	case wire.FormatWebP:
		img, err = webp.Decode(bytes.NewReader(t.Data))
	case wire.FormatJPEG:
		if f.skipJPEG {
			f.formats[image.Pt(t.X, t.Y)] = t.Format
			return
		}
		img, err = jpeg.Decode(bytes.NewReader(t.Data))
	}
	if err != nil {
		f.t.Errorf("decode tile at %d,%d: %v", t.X, t.Y, err)
		return
	}
	if _, fill := img.(*image.Uniform); !fill && (img.Bounds().Dx() != t.W || img.Bounds().Dy() != t.H) {
		f.t.Errorf("tile at %d,%d is %v, record says %dx%d", t.X, t.Y, img.Bounds(), t.W, t.H)
		return
	}
	r := image.Rect(t.X, t.Y, t.X+t.W, t.Y+t.H)
	draw.Draw(f.fb, r, img, img.Bounds().Min, draw.Src)
	f.formats[r.Min] = t.Format
	f.tilesSince[r.Min] = true
	f.received[tileKey{x: t.X, y: t.Y, sum: sha256.Sum256(t.Data)}] = true
	f.coverage = append(f.coverage, r)
}

// waitFor waits until cond, called with f.mu held, is true.
func (f *fakePeer) waitFor(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		f.mu.Lock()
		ok, ch := cond(), f.changed
		f.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			f.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitSeq waits for a FRAME of seq at least seq.
func (f *fakePeer) waitSeq(seq uint32) {
	f.t.Helper()
	f.waitFor("frame", func() bool { return f.frames > 0 && f.lastSeq >= seq })
}

// framebuffer returns a copy of the peer's framebuffer and the format of each tile.
func (f *fakePeer) framebuffer() (*image.RGBA, map[image.Point]wire.Format) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fb == nil {
		return nil, nil
	}
	img := image.NewRGBA(f.fb.Rect)
	copy(img.Pix, f.fb.Pix)
	formats := make(map[image.Point]wire.Format, len(f.formats))
	for k, v := range f.formats {
		formats[k] = v
	}
	return img, formats
}

func (f *fakePeer) failSends(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sendErr = err
}

var errPeerGone = errors.New("peer gone")
