package main

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/client"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
)

// The benchmarks behind docs/BENCHMARKS.md. Each runs a fixed workload whatever b.N is (run
// them with -benchtime 1x) and reports its figures as metrics; the fan-out ones measure raw
// pion data channels carrying the same number of peers in the same run, so figures can be
// quoted as ratios to the transport's own ceiling.

const (
	benchW, benchH = 1920, 1080
	fanoutWindow   = 5 * time.Second
)

// percentile returns the p-th percentile (0-100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuSeconds is this process's user+system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// settle waits (at most 30 s) until the goroutines of earlier benchmarks' peer connections
// are gone, so that memory they free does not count against the next measurement.
func settle() {
	last, same := runtime.NumGoroutine(), 0
	for deadline := time.Now().Add(30 * time.Second); same < 5 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		runtime.GC()
		if n := runtime.NumGoroutine(); n == last {
			same++
		} else {
			last, same = n, 0
		}
	}
}

// liveHeap is the live heap after a full collection.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkJoinFirstFrame: from Join to the first full frame of a 1920x1080 demo desktop,
// Go peer, over loopback (login excluded).
// The store is a SQLite file, and then a PostgreSQL database on loopback (each join checks the
// login session and writes a history row).
func BenchmarkJoinFirstFrame(b *testing.B) {
	for _, postgres := range []bool{false, true} {
		b.Run(map[bool]string{false: "store=sqlite", true: "store=postgres"}[postgres], func(b *testing.B) {
			h := newHarness(b, harnessConfig{demo: demo.Config{Width: benchW, Height: benchH}, postgres: postgres})
			ds := measureJoins(b, h, nil, nil)
			b.ReportMetric(ms(percentile(ds, 50)), "p50-ms")
			b.ReportMetric(ms(percentile(ds, 95)), "p95-ms")
		})
	}
}

// measureJoins times 40 joins per b.N to h's desktop with opts, calling check (if not nil)
// on each session before closing it.
func measureJoins(b *testing.B, h *harness, opts []client.Option, check func(*client.Session)) []time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cookie := h.login(ctx)
	opts = append([]client.Option{client.WithSettingEngine(*loopbackEngine())}, opts...)
	var ds []time.Duration
	for range b.N {
		for range 40 {
			start := time.Now()
			s, err := client.Join(ctx, h.url, h.connID, cookie, opts...)
			if err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(start))
			if check != nil {
				check(s)
			}
			_ = s.Close()
		}
	}
	return ds
}

// BenchmarkRawPairOpen: the transport's own floor for joining: a pion pair on loopback from
// creation to an open data channel.
func BenchmarkRawPairOpen(b *testing.B) {
	var ds []time.Duration
	for range b.N {
		for range 40 {
			start := time.Now()
			p := newRawPair(b)
			ds = append(ds, time.Since(start))
			p.close()
		}
	}
	b.ReportMetric(ms(percentile(ds, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(ds, 95)), "p95-ms")
}

// BenchmarkInputToPixel: a Go peer presses the button at a point of a still 1920x1080 demo
// desktop; the time until its own framebuffer shows the painted dot there.
func BenchmarkInputToPixel(b *testing.B) {
	h := newHarness(b, harnessConfig{demo: demo.Config{Width: benchW, Height: benchH, Still: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ds := measureInputToPixel(ctx, b, h.join(ctx))
	b.ReportMetric(ms(percentile(ds, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(ds, 99)), "p99-ms")
}

// measureInputToPixel times 100 presses per b.N on a still demo desktop, each from the input
// until s's framebuffer shows the painted dot.
func measureInputToPixel(ctx context.Context, b *testing.B, s *client.Session) []time.Duration {
	b.Helper()
	var ds []time.Duration
	for range b.N {
		for i := range 100 {
			x, y := 200+(i%40)*40, 400+(i/40)*60
			// Move there first, so that only the press is measured.
			if err := s.Pointer(x, y, 0); err != nil {
				b.Fatal(err)
			}
			if err := s.WaitFor(ctx, func(img *image.RGBA) bool { return img.RGBAAt(x, y) != img.RGBAAt(x+1, y+1) }); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := s.Pointer(x, y, wire.ButtonLeft); err != nil {
				b.Fatal(err)
			}
			if err := s.WaitFor(ctx, func(img *image.RGBA) bool { return img.RGBAAt(x+1, y+1) == demo.PaintColor }); err != nil {
				b.Fatal(err)
			}
			ds = append(ds, time.Since(start))
			if err := s.Pointer(x, y, 0); err != nil {
				b.Fatal(err)
			}
		}
	}
	return ds
}

// busyDesktop changes all of a 1920x1080 screen 60 times a second: more than any transport
// here carries, so fan-out figures show the ceiling of the whole path.
var busyDesktop = demo.Config{Width: benchW, Height: benchH, Busy: 100, FPS: 60}

// BenchmarkFanout: N peers of busyDesktop, against raw pion data channels sending 64 KiB messages to N receivers.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 4, 16, 32} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			for range b.N {
				raw := rawFanout(b, n, fanoutWindow)
				ours := peerdeskFanout(b, harnessConfig{demo: busyDesktop}, n, fanoutWindow, nil)
				b.ReportMetric(raw.bytesPerPeer/(1<<20), "raw-MiB/s/peer")
				b.ReportMetric(raw.cpu, "raw-cpu")
				b.ReportMetric(ours.bytesPerPeer/(1<<20), "MiB/s/peer")
				b.ReportMetric(ours.updatesPerPeer, "updates/s/peer")
				b.ReportMetric(ours.encodesPerUpdate, "encodes/update")
				b.ReportMetric(ours.encodesPerVersion, "encodes/version")
				b.ReportMetric(ours.cpu, "cpu")
				b.ReportMetric(ours.bytesPerPeer/raw.bytesPerPeer, "ratio-to-raw")
			}
		})
	}
}

// BenchmarkIdlePeerMemory: heap held per idle connected peer (agent, server and client side
// together, all in this process), against a raw pion pair measured the same way.
func BenchmarkIdlePeerMemory(b *testing.B) {
	const n = 16
	for range b.N {
		settle()
		before := liveHeap()
		pairs := make([]*rawPair, n)
		for i := range pairs {
			pairs[i] = newRawPair(b)
		}
		raw := float64(liveHeap()-before) / n
		for _, p := range pairs {
			p.close()
		}

		h := newHarness(b, harnessConfig{demo: demo.Config{Width: benchW, Height: benchH, Still: true}})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		s := h.join(ctx, client.WithoutImageDecoding()) // warm the tile cache
		_ = s.Close()
		settle()
		before = liveHeap()
		for range n {
			h.join(ctx, client.WithoutImageDecoding())
		}
		ours := float64(liveHeap()-before) / n
		cancel()
		b.ReportMetric(raw/(1<<20), "raw-pair-MiB")
		b.ReportMetric(ours/(1<<20), "MiB/peer")
	}
}

// BenchmarkStoppedPeer: 8 peers under continuous change; the update rate the 7 others get with
// one peer stopped (or throttled) as a ratio to the run where all read, and the stopped peer's
// largest transport buffer.
func BenchmarkStoppedPeer(b *testing.B) {
	for _, name := range []string{"stopped", "throttled", "stopped-video", "throttled-video"} {
		mode, video := strings.CutSuffix(name, "-video")
		var caps client.Option
		if !video {
			caps = client.WithoutVideo() // the band as tiles, as before video regions
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				h := newHarness(b, harnessConfig{demo: demo.Config{Width: benchW, Height: benchH, Busy: 50}})
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				peers := make([]*client.Session, 8)
				for i := range peers {
					peers[i] = h.join(ctx, client.WithoutImageDecoding(), caps)
				}
				rate := func() float64 {
					start := make([]uint64, len(peers))
					for i, p := range peers[1:] {
						start[i] = p.Frames()
					}
					time.Sleep(fanoutWindow)
					var sum uint64
					for i, p := range peers[1:] {
						sum += p.Frames() - start[i]
					}
					return float64(sum) / float64(len(peers)-1) / fanoutWindow.Seconds()
				}
				base := rate()
				stop := make(chan struct{})
				var wg sync.WaitGroup
				if mode == "stopped" {
					peers[0].Freeze()
				} else {
					wg.Add(1)
					go func() { // reads a tenth of the time
						defer wg.Done()
						for {
							peers[0].Freeze()
							select {
							case <-stop:
								peers[0].Resume()
								return
							case <-time.After(90 * time.Millisecond):
							}
							peers[0].Resume()
							time.Sleep(10 * time.Millisecond)
						}
					}()
				}
				var maxBuf atomic.Uint64
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						for _, ps := range h.agent.Pipeline().PeerStats() {
							if ps.Buffered > maxBuf.Load() {
								maxBuf.Store(ps.Buffered)
							}
						}
						select {
						case <-stop:
							return
						case <-time.After(20 * time.Millisecond):
						}
					}
				}()
				with := rate()
				close(stop)
				wg.Wait()
				peers[0].Resume()
				cancel()
				b.ReportMetric(base, "base-updates/s")
				b.ReportMetric(with, "updates/s")
				b.ReportMetric(with/base, "ratio")
				b.ReportMetric(float64(maxBuf.Load())/(1<<10), "max-buffered-KiB")
			}
		})
	}
}

// fanoutResult is what one fan-out window measured.
type fanoutResult struct {
	bytesPerPeer      float64 // delivered bytes per second per peer
	updatesPerPeer    float64 // FRAME messages per second per peer
	encodesPerUpdate  float64 // tile encodes per desktop update
	encodesPerVersion float64 // tile encodes per new tile version
	cpu               float64 // process CPU seconds per second
}

// peerdeskFanout measures n peers joined with opts (each checked by check, if not nil) of the
// harness cfg for window.
func peerdeskFanout(b *testing.B, cfg harnessConfig, n int, window time.Duration, check func(*client.Session), opts ...client.Option) fanoutResult {
	cfg.noCleanup = true
	h := newHarness(b, cfg)
	defer h.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	peers := make([]*client.Session, n)
	for i := range peers {
		peers[i] = h.join(ctx, append([]client.Option{client.WithoutImageDecoding()}, opts...)...)
		if check != nil {
			check(peers[i])
		}
	}
	frames, bytes := make([]uint64, n), make([]uint64, n)
	for i, p := range peers {
		st := p.Stats()
		frames[i], bytes[i] = st.Frames, st.Bytes
	}
	p0 := h.agent.Pipeline().Stats()
	cpu0, t0 := cpuSeconds(), time.Now()
	time.Sleep(window)
	el := time.Since(t0).Seconds()
	cpu := (cpuSeconds() - cpu0) / el
	p1 := h.agent.Pipeline().Stats()
	var r fanoutResult
	for i, p := range peers {
		st := p.Stats()
		r.bytesPerPeer += float64(st.Bytes-bytes[i]) / el / float64(n)
		r.updatesPerPeer += float64(st.Frames-frames[i]) / el / float64(n)
	}
	r.encodesPerUpdate = float64(p1.Encodes-p0.Encodes) / float64(max(1, p1.Updates-p0.Updates))
	r.encodesPerVersion = float64(p1.Encodes-p0.Encodes) / float64(max(1, p1.TileVersions-p0.TileVersions))
	r.cpu = cpu
	for _, p := range peers {
		_ = p.Close()
	}
	return r
}

// rawPair is a bare pion peer connection pair on loopback with one negotiated data channel.
type rawPair struct {
	snd, rcv       *webrtc.PeerConnection
	sndDC, rcvDC   *webrtc.DataChannel
	received       atomic.Uint64
	low            chan struct{}
	sndOpen, rOpen chan struct{}
}

func newRawPair(tb testing.TB) *rawPair {
	tb.Helper()
	se := loopbackEngine()
	se.SetSCTPRTOMax(3 * time.Second) // as the relay agent does
	api := webrtc.NewAPI(webrtc.WithSettingEngine(*se))
	p := &rawPair{low: make(chan struct{}, 1), sndOpen: make(chan struct{}), rOpen: make(chan struct{})}
	var err error
	if p.snd, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		tb.Fatal(err)
	}
	if p.rcv, err = api.NewPeerConnection(webrtc.Configuration{}); err != nil {
		tb.Fatal(err)
	}
	yes, id := true, uint16(1)
	init := &webrtc.DataChannelInit{Negotiated: &yes, ID: &id, Ordered: &yes}
	if p.sndDC, err = p.snd.CreateDataChannel("display", init); err != nil {
		tb.Fatal(err)
	}
	if p.rcvDC, err = p.rcv.CreateDataChannel("display", init); err != nil {
		tb.Fatal(err)
	}
	p.sndDC.OnOpen(func() { close(p.sndOpen) })
	p.rcvDC.OnOpen(func() { close(p.rOpen) })
	p.rcvDC.OnMessage(func(m webrtc.DataChannelMessage) { p.received.Add(uint64(len(m.Data))) })
	p.sndDC.SetBufferedAmountLowThreshold(512 << 10)
	p.sndDC.OnBufferedAmountLow(func() {
		select {
		case p.low <- struct{}{}:
		default:
		}
	})
	offer, err := p.snd.CreateOffer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gather := webrtc.GatheringCompletePromise(p.snd)
	if err := p.snd.SetLocalDescription(offer); err != nil {
		tb.Fatal(err)
	}
	<-gather
	if err := p.rcv.SetRemoteDescription(*p.snd.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
	answer, err := p.rcv.CreateAnswer(nil)
	if err != nil {
		tb.Fatal(err)
	}
	gather = webrtc.GatheringCompletePromise(p.rcv)
	if err := p.rcv.SetLocalDescription(answer); err != nil {
		tb.Fatal(err)
	}
	<-gather
	if err := p.snd.SetRemoteDescription(*p.rcv.LocalDescription()); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-p.sndOpen:
	case <-time.After(10 * time.Second):
		tb.Fatal("raw pair did not open")
	}
	<-p.rOpen
	return p
}

func (p *rawPair) close() {
	_ = p.snd.Close()
	_ = p.rcv.Close()
}

type rawResult struct {
	bytesPerPeer float64
	cpu          float64
}

// rawFanout sends the same 64 KiB message to n receivers as fast as flow control allows
// (one sender goroutine per receiver, stopping above 1 MiB buffered as the pipeline does).
func rawFanout(tb testing.TB, n int, window time.Duration) rawResult {
	pairs := make([]*rawPair, n)
	for i := range pairs {
		pairs[i] = newRawPair(tb)
	}
	msg := make([]byte, wire.MaxMessage)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if p.sndDC.BufferedAmount() > 1<<20 {
					select {
					case <-p.low:
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					continue
				}
				if err := p.sndDC.Send(msg); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(time.Second) // warm up: congestion windows open
	start := make([]uint64, n)
	for i, p := range pairs {
		start[i] = p.received.Load()
	}
	cpu0, t0 := cpuSeconds(), time.Now()
	time.Sleep(window)
	el := time.Since(t0).Seconds()
	r := rawResult{cpu: (cpuSeconds() - cpu0) / el}
	for i, p := range pairs {
		r.bytesPerPeer += float64(p.received.Load()-start[i]) / el / float64(n)
	}
	close(stop)
	wg.Wait()
	for _, p := range pairs {
		p.close()
	}
	return r
}
