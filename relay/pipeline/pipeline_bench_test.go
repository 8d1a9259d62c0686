package pipeline

import (
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"peerdesk/relay/wire"
)

// framePeer is a Sender that only follows the FRAME messages, for benchmarks.
type framePeer struct {
	mu      sync.Mutex
	seq     uint32
	changed chan struct{}
}

func (f *framePeer) Send(b []byte) error {
	if b[0] != wire.MsgFrame {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq = binary.BigEndian.Uint32(b[1:])
	close(f.changed)
	f.changed = make(chan struct{})
	return nil
}

func (f *framePeer) BufferedAmount() uint64 { return 0 }

func (f *framePeer) SetBufferedAmountLowThreshold(uint64) {}

func (f *framePeer) wait(seq uint32) {
	for {
		f.mu.Lock()
		done, ch := f.seq >= seq, f.changed
		f.mu.Unlock()
		if done {
			return
		}
		<-ch
	}
}

// BenchmarkPipeline1080p measures one full-screen change of a 1920×1080 desktop delivered to
// every peer: the encode work must not grow with the number of peers.
func BenchmarkPipeline1080p(b *testing.B) {
	frames := make([]*image.RGBA, 4)
	for i := range frames {
		frames[i] = image.NewRGBA(image.Rect(0, 0, 1920, 1080))
		for y := range 1080 {
			for x := range 1920 {
				frames[i].SetRGBA(x, y, color.RGBA{R: uint8(x/8 + 9*i), G: uint8(y/5 + 5*i), B: uint8((x + y) / 12), A: 0xff})
			}
		}
	}
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			p, err := New(Config{Logger: zerolog.Nop()})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			peers := make([]*framePeer, n)
			for i := range peers {
				peers[i] = &framePeer{changed: make(chan struct{})}
				p.AddPeer(peers[i], PeerOptions{})
			}
			damage := []image.Rectangle{frames[0].Rect}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				p.Update(frames[i%len(frames)], damage)
				seq := p.Stats().Seq
				for _, f := range peers {
					f.wait(seq)
				}
			}
			st := p.Stats()
			b.ReportMetric(float64(st.Encodes)/float64(b.N), "encodes/op")
			b.ReportMetric(float64(st.EncodedBytes)/float64(b.N), "encoded-B/op")
		})
	}
}

// BenchmarkDetectScroll measures the scroll search over a whole 1920x1080 damage that is no
// scroll (every row new: the worst case, paid on every such update) and one that is.
func BenchmarkDetectScroll(b *testing.B) {
	p, err := New(Config{Logger: zerolog.Nop()})
	if err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	frame := image.NewRGBA(image.Rect(0, 0, 1920, 1080))
	fillNoise(frame, frame.Rect, rnd, 16)
	p.Update(frame, nil)
	fresh := image.NewRGBA(frame.Rect)
	fillNoise(fresh, fresh.Rect, rnd, 16)
	scrolled := image.NewRGBA(frame.Rect)
	copy(scrolled.Pix, frame.Pix)
	draw.Draw(scrolled, image.Rect(0, 0, 1920, 1054), frame, image.Pt(0, 26), draw.Src)
	for _, c := range []struct {
		name  string
		frame *image.RGBA
		want  int
	}{{"new", fresh, 0}, {"scrolled", scrolled, 1}} {
		b.Run(c.name, func(b *testing.B) {
			p.mu.Lock()
			defer p.mu.Unlock()
			for b.Loop() {
				if got := p.detectScrolls(c.frame, []image.Rectangle{frame.Rect, image.Rect(0, 0, 8, 8)}); len(got) != c.want {
					b.Fatalf("%d copies, want %d", len(got), c.want)
				}
			}
		})
	}
}
