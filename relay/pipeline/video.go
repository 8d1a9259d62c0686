package pipeline

import (
	"image"
	"sync/atomic"
	"time"

	"peerdesk/internal/cvpx"
	"peerdesk/relay/wire"
)

// Video regions: a rectangle of the desktop that keeps changing with photographic content (a
// film, a video call, a 3D view) is encoded once as VP8, at its own size, and sent as VIDEO
// messages to every peer that announced wire.CapVideo; the others, and every peer until it
// holds a keyframe, get its tiles as usual. Text and UI elsewhere stay lossless tiles, and when
// the region stops moving its tiles go out again, exactly. The encoder's frames have temporal
// layers (cvpx.Frame): a peer whose link is the limit leaves out layer 2, and any peer that
// falls behind skips to the newest frame past the layer 0 ones, so one encode gives every peer
// its own frame rate; a peer that lost a layer 0 frame waits for a keyframe.

// Video detection and encoding.
const (
	// videoCheckEvery is how often the pipeline looks for a video region (or its end).
	videoCheckEvery = 500 * time.Millisecond
	// videoMinHits is how often a tile must change during one check to count as moving
	// (10 times a second).
	videoMinHits = 5
	// videoMinTiles is the fewest moving tiles that make a video region.
	videoMinTiles = 6
	// videoGap is how many tiles apart two moving tiles may be and still belong to one region.
	videoGap = 2
	// A region starts at the bounding box of a cluster of moving tiles that fill at least a
	// fifth of it, of which at least a tenth are photographic (text scrolling is not, a film
	// always has some); it ends after two checks with less than one in twenty of its tiles
	// moving, or when a larger cluster moves outside it.
	videoStartFill, videoMinPhoto, videoKeepFill = 0.2, 0.1, 0.05
	videoQuietChecks                             = 2
	// videoMaxFPS bounds the frame rate of the encoder.
	videoMaxFPS = 30
	// Keyframes: every videoKeyEvery, at most every videoKeyGap when a peer asks for one (so
	// peers that keep falling behind, on purpose or not, cost the others at most one keyframe
	// every 2 s), and whenever the frames since the last one exceed maxVideoLog bytes.
	videoKeyEvery = 10 * time.Second
	videoKeyGap   = 2 * time.Second
	maxVideoLog   = 4 << 20
	// maxVideoDrops is how many frames in a row may be too large to send before the region
	// ends.
	maxVideoDrops = 3
	// minVideoCatchUp is the least a peer may have to be sent to catch up with the video (its
	// layer 0 frames since the last keyframe), or a second of the region's bit rate if more:
	// beyond, it waits for a fresh keyframe.
	minVideoCatchUp = 256 << 10
	// defaultVideoKbps is the encoder's bit rate per megapixel of region at 25 frames a
	// second: 2 Mbit/s for 720p (docs/BENCHMARKS.md).
	defaultVideoKbps = 2200
	minVideoKbps     = 500 // the floor of a small region's bit rate
	maxVideoKbps     = 20000
	// videoCPUUsed is libvpx's real-time speed setting (faster as it grows, to 16).
	videoCPUUsed = 10
)

// videoRegion is one video: a region and its encoder's frames. Its fields are set before its
// encoder starts and never change, but frames, logBytes and ended, guarded by Pipeline.mu.
type videoRegion struct {
	id     uint64
	gen    uint64
	rect   image.Rectangle
	mask   []bool // mask[i]: tile i lies in rect
	kbps   int
	keyReq atomic.Bool   // a peer asks for a keyframe
	wake   chan struct{} // one slot: the region changed
	stop   chan struct{} // closed when the region ends

	catchUp  int           // most bytes of catching up before a fresh keyframe costs less
	frames   []*videoFrame // since the last keyframe, which comes first; replaced, never modified
	logBytes int
	ended    bool
}

// videoFrame is one encoded frame of a region, as the VIDEO messages that carry it.
type videoFrame struct {
	num   uint32 // counts the region's frames from 0
	key   bool
	layer int
	msgs  [][]byte
	size  int // bytes of msgs
}

// noteVideoChange records a tile's change for the region's encoder and, unless a copy made
// it (a scroll, a window moved), for video detection; p.mu is held.
func (p *Pipeline) noteVideoChange(t *tile, copied bool) {
	if !copied && t.hits < 1<<15 {
		t.hits++
	}
	if v := p.video; v != nil && v.gen == t.gen && v.mask[p.tileIndex(t)] {
		p.videoDirty = true
	}
}

// videoWatchers reports whether a peer stream decodes video; p.mu is held.
func (p *Pipeline) videoWatchers() bool {
	for s := range p.streams {
		if s.canVideo() {
			return true
		}
	}
	return false
}

// tileMask returns which tiles lie in r (a union of tile rectangles) and how many; p.mu is
// held.
func (p *Pipeline) tileMask(r image.Rectangle) ([]bool, int) {
	mask := make([]bool, len(p.tiles))
	n := 0
	for _, t := range p.damaged([]image.Rectangle{r}) {
		mask[p.tileIndex(t)] = true
		n++
	}
	return mask, n
}

// countTrue counts the true elements of b.
func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

// startVideo makes r the video region and starts its encoder; p.mu is held.
func (p *Pipeline) startVideo(r image.Rectangle, mask []bool) {
	p.videoID++
	mp := float64(r.Dx()*r.Dy()) / 1e6
	v := &videoRegion{
		id: p.videoID, gen: p.gen, rect: r, mask: mask,
		kbps: min(max(int(mp*float64(p.cfg.VideoKbps)), minVideoKbps), maxVideoKbps),
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
	v.catchUp = max(minVideoCatchUp, v.kbps*1000/8)
	v.wake <- struct{}{}
	p.video, p.videoQuiet, p.videoDirty = v, 0, false
	p.log.Info().Uint64("video", v.id).Stringer("region", r).Int("kbps", v.kbps).Msg("video region")
	p.videoWG.Go(func() { p.runVideo(v) })
}

// endVideo ends the video region, if there is one, and wakes the streams, whose peers then get
// the region's tiles; p.mu is held. The region's encoder returns on its own.
func (p *Pipeline) endVideo() {
	v := p.video
	if v == nil {
		return
	}
	p.video, v.ended = nil, true
	close(v.stop)
	p.log.Info().Uint64("video", v.id).Msg("video region ended")
	for s := range p.streams {
		s.Wake()
	}
}

// runVideo encodes the region whenever it changed, at most videoMaxFPS times a second, until
// it ends; the frames go to the region's log and every stream is woken. While the desktop
// does not change, it checks every videoCheckEvery whether the region ended (a paused film).
func (p *Pipeline) runVideo(v *videoRegion) {
	w, h := v.rect.Dx(), v.rect.Dy()
	enc, err := cvpx.NewEncoder(cvpx.EncoderConfig{Width: w, Height: h, Kbps: v.kbps, Threads: 1, CPUUsed: videoCPUUsed})
	if err != nil {
		p.log.Error().Err(err).Msg("video encoder")
		p.failVideo(v)
		return
	}
	defer enc.Close()
	pix := make([]byte, 4*w*h)
	pace := time.NewTimer(0)
	defer pace.Stop()
	check := time.NewTicker(videoCheckEvery)
	defer check.Stop()
	start, lastKey := time.Now(), time.Time{}
	var num uint32
	dropped := 0 // frames in a row too large to send
	for {
		select {
		case <-v.stop:
			return
		case <-check.C:
			p.mu.Lock()
			p.checkVideo(time.Now())
			p.mu.Unlock()
			continue
		case <-v.wake:
		}
		select { // pace the encoder
		case <-v.stop:
			return
		case <-pace.C:
		}
		pace.Reset(time.Second / videoMaxFPS)
		p.mu.RLock()
		logBytes, ended := v.logBytes, v.ended
		if !ended {
			for y := range h {
				off := p.fb.PixOffset(v.rect.Min.X, v.rect.Min.Y+y)
				copy(pix[4*w*y:4*w*(y+1)], p.fb.Pix[off:off+4*w])
			}
		}
		p.mu.RUnlock()
		if ended {
			return
		}
		now := time.Now()
		key := num == 0 || dropped > 0 || now.Sub(lastKey) >= videoKeyEvery || logBytes > maxVideoLog ||
			(v.keyReq.Load() && now.Sub(lastKey) >= videoKeyGap)
		f, err := enc.Encode(pix, 4*w, now.Sub(start).Milliseconds(), key)
		if err != nil {
			p.log.Error().Err(err).Msg("video encode")
			p.failVideo(v)
			return
		}
		vf := &videoFrame{num: num, key: f.Key, layer: f.Layer, size: len(f.Data)}
		vf.msgs, err = wire.EncodeVideo(wire.Video{X: v.rect.Min.X, Y: v.rect.Min.Y, W: w, H: h, Frame: num, Key: f.Key, Layer: f.Layer}, f.Data)
		if err != nil {
			// A frame too large to send was still a reference of the encoder's: the next one
			// must be a keyframe, whatever the gap; a region whose keyframes do not fit ends.
			p.log.Warn().Err(err).Msg("video frame dropped")
			if dropped++; dropped >= maxVideoDrops {
				p.failVideo(v)
				return
			}
			continue
		}
		dropped = 0
		if f.Key {
			lastKey = now
			v.keyReq.Store(false)
			p.videoKeys.Add(1)
		}
		num++
		p.videoFrames.Add(1)
		p.videoBytes.Add(uint64(len(f.Data)))
		p.addVideoFrame(v, vf)
	}
}

// addVideoFrame appends a frame to the region's log (a keyframe replaces it) and wakes the
// streams.
func (p *Pipeline) addVideoFrame(v *videoRegion, f *videoFrame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if v.ended {
		return
	}
	if f.key {
		v.frames, v.logBytes = []*videoFrame{f}, 0
	} else {
		v.frames = append(v.frames, f)
	}
	v.logBytes += f.size
	for s := range p.streams {
		s.Wake()
	}
}

// failVideo ends the region after its encoder failed; detection may start another.
func (p *Pipeline) failVideo(v *videoRegion) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.video == v {
		p.endVideo()
	}
}

// requestKey asks the region's encoder for a keyframe, which it makes at most every
// videoKeyGap.
func (v *videoRegion) requestKey() {
	if v.keyReq.Swap(true) {
		return
	}
	select {
	case v.wake <- struct{}{}:
	default:
	}
}
