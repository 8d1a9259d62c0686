package pipeline

import (
	"image"
	"sync/atomic"
	"testing"
	"time"

	"peerdesk/relay/wire"
)

// testRegion returns a region of n tiles' mask with frames for unit tests of streams.
func testRegion(n int) *videoRegion {
	return &videoRegion{rect: image.Rect(0, 0, 64, 64), mask: make([]bool, n), catchUp: minVideoCatchUp,
		wake: make(chan struct{}, 1), stop: make(chan struct{})}
}

func testFrame(num uint32, key bool, layer, size int) *videoFrame {
	return &videoFrame{num: num, key: key, layer: layer, size: size, msgs: [][]byte{make([]byte, 20)}}
}

// discard is a Sender that drops what it is sent.
type discard struct{}

func (discard) Send([]byte) error                    { return nil }
func (discard) BufferedAmount() uint64               { return 0 }
func (discard) SetBufferedAmountLowThreshold(uint64) {}

// TestVideoJoinAfterAnotherRegion: a peer that could not join one region (too much to catch
// up) joins the next region at its first keyframe: frame numbers count per region (found in
// review: the first region's count made it wait for the second's next keyframe).
func TestVideoJoinAfterAnotherRegion(t *testing.T) {
	p := newTestPipeline(t, Config{})
	caps := new(atomic.Uint32)
	caps.Store(wire.CapVideo)
	s := newPeerStream(p, discard{}, PeerOptions{Caps: caps}, 1)
	s.reset(4)
	s.hw = 1 << 30
	a := testRegion(4)
	s.view.video, s.view.vframes = a, []*videoFrame{testFrame(0, true, 0, 200<<10), testFrame(1, false, 2, 10),
		testFrame(2, false, 1, 10), testFrame(3, false, 2, 10), testFrame(4, false, 0, 100<<10)}
	if sent, err := s.sendVideo(); sent || err != nil || s.video.in != nil || !a.keyReq.Load() {
		t.Fatalf("joining a region with 300 KiB to catch up: sent %v, %v, in %v, key asked %v", sent, err, s.video.in != nil, a.keyReq.Load())
	}
	b := testRegion(4)
	s.view.video, s.view.vframes = b, []*videoFrame{testFrame(0, true, 0, 10<<10)}
	if sent, err := s.sendVideo(); !sent || err != nil || s.video.in != b {
		t.Fatalf("joining the next region at its first keyframe: sent %v, %v", sent, err)
	}
	// A keyframe alone, larger than half the bound, is joined (it was counted twice).
	c := testRegion(4)
	s.view.video, s.view.vframes = c, []*videoFrame{testFrame(0, true, 0, 200<<10)}
	if sent, err := s.sendVideo(); !sent || err != nil {
		t.Fatalf("joining at a 200 KiB keyframe: sent %v, %v", sent, err)
	}
}

// TestVideoRegionFollowsThePlayer: when the player moves by less than its width, the region
// that ends gives way to one over the whole player, the tiles it shares with the old one
// included (found in review: they were left out).
func TestVideoRegionFollowsThePlayer(t *testing.T) {
	p := newTestPipeline(t, Config{})
	p.Update(image.NewRGBA(image.Rect(0, 0, 512, 320)), nil)
	caps := new(atomic.Uint32)
	caps.Store(wire.CapVideo)
	p.AddPeer(newFakePeer(t), PeerOptions{Caps: caps})
	ts := p.cfg.TileSize
	p.mu.Lock()
	defer p.mu.Unlock()
	old := image.Rect(0, 0, 4*ts, 3*ts)
	mask, _ := p.tileMask(old)
	p.startVideo(old, mask)
	player := image.Rect(2*ts, 0, 7*ts, 3*ts) // moved right by two tiles
	for _, tl := range p.damaged([]image.Rectangle{player}) {
		tl.hits = videoMinHits
		tl.photo.Store(true)
	}
	p.videoChecked = time.Time{}
	p.checkVideo(time.Now())
	if p.video == nil || p.video.rect != player {
		t.Fatalf("the region after the player moved to %v: %v", player, p.video)
	}
}
