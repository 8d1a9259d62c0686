package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"peerdesk/client"
	"peerdesk/internal/testproc"
	"peerdesk/relay/pipeline"
)

// The real-desktop benchmarks of docs/BENCHMARKS.md: Xtigervnc at 1920x1080 served by the
// agent's VNC source, with scripted X clients as the workload. Like the others they run a
// fixed workload whatever b.N is (use -benchtime 1x); they skip when Xtigervnc or an X client
// they run is missing.

// clockTicks is the unit of utime and stime in /proc/<pid>/stat (USER_HZ, 100 on Linux).
const clockTicks = 100

// scrollCommand prints numbered lines of text as fast as the xterm takes them.
const scrollCommand = `exec seq 1000000000 | sed 's/.*/line &: the quick brown fox jumps over the lazy dog, lorem ipsum dolor sit amet &/'`

// vncWorkload starts a workload on the desktop and returns what stops it, and the counter of
// the changes it made if it counts them (nil otherwise).
type vncWorkload func(b *testing.B, d *tigerVNC) (changes *atomic.Uint64, stop func())

// BenchmarkVNCScroll: an xterm covering the 1920x1080 screen scrolls text as fast as it
// renders, with 1 and 8 peers that count the bytes and FRAMEs without decoding them.
func BenchmarkVNCScroll(b *testing.B) {
	vncThroughput(b, func(b *testing.B, d *tigerVNC) (*atomic.Uint64, func()) {
		c := d.xterm("330x90+0+0", scrollCommand)
		return nil, func() { testproc.Stop(c) }
	})
}

// BenchmarkVNCImage: two noisy photographic-like 1920x1080 images (ImageMagick plasma, one
// with Gaussian noise) replace each other as the root window's background, as fast as
// ImageMagick's display puts them there, with 1 and 8 non-decoding peers. changes/s is how
// many full-screen changes X made per second.
func BenchmarkVNCImage(b *testing.B) {
	vncThroughput(b, imageSwaps)
}

// imageSwaps is BenchmarkVNCImage's workload.
func imageSwaps(b *testing.B, d *tigerVNC) (*atomic.Uint64, func()) {
	testproc.NeedBins(b, "convert", "display")
	dir := b.TempDir()
	imgs := []string{filepath.Join(dir, "a.ppm"), filepath.Join(dir, "b.ppm")}
	d.x("", "convert", "-seed", "1", "-size", fmt.Sprintf("%dx%d", d.w, d.h), "plasma:fractal", "-depth", "8", imgs[0])
	d.x("", "convert", "-seed", "2", "-size", fmt.Sprintf("%dx%d", d.w, d.h), "plasma:fractal",
		"-attenuate", "0.5", "+noise", "Gaussian", "-depth", "8", imgs[1])
	ctx, cancel := context.WithCancel(context.Background())
	var shown atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			out, err := exec.CommandContext(ctx, "display", "-display", d.display, "-window", "root", imgs[i%2]).CombinedOutput()
			if ctx.Err() != nil {
				return
			}
			// ImageMagick 6's display -window root exits with status 1, silently, when it
			// has put the image there.
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || len(out) != 0 {
				b.Errorf("display: %v: %s", err, out)
				return
			}
			shown.Add(1)
		}
	}()
	return &shown, func() {
		cancel()
		wg.Wait()
	}
}

// vncThroughput runs work on a 1920x1080 Xtigervnc with 1 and then 8 non-decoding peers, and
// reports what a window of it measured.
func vncThroughput(b *testing.B, work vncWorkload) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("peers=%d", n), func(b *testing.B) {
			d := startTigerVNC(b, benchW, benchH)
			h := newVNCHarness(b, d.addr())
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			peers := make([]*client.Session, n)
			for i := range peers {
				peers[i] = h.join(ctx, client.WithoutImageDecoding())
				if err := peers[i].WaitFrames(ctx, 1); err != nil {
					b.Fatal(err)
				}
			}
			changes, stop := work(b, d)
			defer stop()
			time.Sleep(time.Second) // warm up: the workload gets going, congestion windows open
			for range b.N {
				var changes0 uint64
				if changes != nil {
					changes0 = changes.Load()
				}
				r := measureVNC(b, h, d, peers, fanoutWindow)
				b.ReportMetric(r.bytesPerPeer/(1<<20), "MiB/s/peer")
				b.ReportMetric(r.updatesPerPeer, "updates/s/peer")
				b.ReportMetric(r.copiesPerPeer, "copies/s/peer")
				b.ReportMetric(r.desktopUpdates, "desktop-updates/s")
				b.ReportMetric(r.cpu, "cpu")
				b.ReportMetric(r.xvncCPU, "xvnc-cpu")
				if changes != nil {
					b.ReportMetric(float64(changes.Load()-changes0)/r.seconds, "changes/s")
				}
			}
		})
	}
}

// vncResult is what one window of a real-desktop workload measured.
type vncResult struct {
	seconds        float64 // the window's length
	bytesPerPeer   float64 // delivered display bytes per second per peer
	updatesPerPeer float64 // FRAME messages per second per peer
	copiesPerPeer  float64 // COPY messages per second per peer
	desktopUpdates float64 // VNC updates the pipeline accepted per second
	cpu            float64 // this process's CPU seconds per second: server, agent and peers
	xvncCPU        float64 // Xtigervnc's CPU seconds per second
}

// measureVNC measures peers and the desktop d for window.
func measureVNC(b *testing.B, h *harness, d *tigerVNC, peers []*client.Session, window time.Duration) vncResult {
	b.Helper()
	start := make([]client.Stats, len(peers))
	for i, p := range peers {
		start[i] = p.Stats()
	}
	p0 := h.agent.Pipeline().Stats()
	x0, cpu0, t0 := procCPU(b, d.cmd.Process.Pid), cpuSeconds(), time.Now()
	time.Sleep(window)
	el := time.Since(t0).Seconds()
	r := vncResult{
		seconds: el,
		cpu:     (cpuSeconds() - cpu0) / el,
		xvncCPU: (procCPU(b, d.cmd.Process.Pid) - x0) / el,
	}
	r.desktopUpdates = float64(h.agent.Pipeline().Stats().Updates-p0.Updates) / el
	for i, p := range peers {
		st := p.Stats()
		if err := p.Err(); err != nil {
			b.Fatalf("peer %d: %v", i, err)
		}
		r.bytesPerPeer += float64(st.Bytes-start[i].Bytes) / el / float64(len(peers))
		r.updatesPerPeer += float64(st.Frames-start[i].Frames) / el / float64(len(peers))
		r.copiesPerPeer += float64(st.Copies-start[i].Copies) / el / float64(len(peers))
	}
	return r
}

// procCPU returns the user+system CPU seconds of process pid, from /proc/<pid>/stat.
func procCPU(tb testing.TB, pid int) float64 {
	tb.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	// The fields after the command name, which is in parentheses and may hold spaces: state is
	// the first, utime the 12th and stime the 13th.
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		tb.Fatalf("/proc/%d/stat: %q", pid, s)
	}
	var ticks float64
	for _, v := range f[11:13] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			tb.Fatalf("/proc/%d/stat: %v", pid, err)
		}
		ticks += float64(n)
	}
	return ticks / clockTicks
}

// BenchmarkVNCDrawToPixel: the root window of a 1920x1080 Xtigervnc changes colour
// (xsetroot -solid) 50 times; the time from the moment the xsetroot process has exited (it
// syncs with the X server before exiting, so X has drawn the colour by then) until a decoding
// peer's framebuffer shows the colour at five points spread over the screen.
func BenchmarkVNCDrawToPixel(b *testing.B) {
	d := startTigerVNC(b, benchW, benchH)
	h := newVNCHarness(b, d.addr())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := h.join(ctx)
	points := []image.Point{{100, 100}, {benchW - 100, 100}, {benchW / 2, benchH / 3}, {100, benchH - 100}, {benchW - 100, benchH - 100}}
	colours := [][3]byte{{0x33, 0x66, 0xcc}, {0xcc, 0x66, 0x33}}
	var ds []time.Duration
	for range b.N {
		for i := range 50 {
			c := colours[i%2]
			d.x("", "xsetroot", "-solid", fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]))
			start := time.Now()
			err := s.WaitFor(ctx, func(img *image.RGBA) bool {
				for _, p := range points {
					if got := img.RGBAAt(p.X, p.Y); [3]byte{got.R, got.G, got.B} != c {
						return false
					}
				}
				return true
			})
			if err != nil {
				b.Fatalf("the peer never showed colour %x: %v", c, errors.Join(err, s.Err()))
			}
			ds = append(ds, time.Since(start))
		}
	}
	b.ReportMetric(ms(percentile(ds, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(ds, 99)), "p99-ms")
}

// BenchmarkVNCIdle: the thin-link benchmark's workloads (a 720p video, a scrolling xterm) play
// with nobody watching. It reports this process's (server and agent) and Xtigervnc's CPU while
// unwatched, how long the first viewer then waits for its first whole frame, and both CPU
// figures with that viewer.
func BenchmarkVNCIdle(b *testing.B) {
	for _, work := range []string{"video", "scroll"} {
		b.Run(work, func(b *testing.B) {
			d := startTigerVNC(b, benchW, benchH)
			h := newVNCHarness(b, d.addr())
			thinWorkload(b, d, work)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			time.Sleep(time.Second) // the workload gets going
			for range b.N {
				idle := measureVNC(b, h, d, nil, fanoutWindow)
				start := time.Now()
				s := h.join(ctx, client.WithoutImageDecoding())
				if err := s.WaitFrames(ctx, 1); err != nil {
					b.Fatal(err)
				}
				first := time.Since(start)
				watched := measureVNC(b, h, d, []*client.Session{s}, fanoutWindow)
				s.Close()
				b.ReportMetric(idle.cpu, "idle-cpu")
				b.ReportMetric(idle.xvncCPU, "idle-xvnc-cpu")
				b.ReportMetric(idle.desktopUpdates, "idle-desktop-updates/s")
				b.ReportMetric(ms(first), "first-frame-ms")
				b.ReportMetric(watched.cpu, "watched-cpu")
				b.ReportMetric(watched.xvncCPU, "watched-xvnc-cpu")
			}
		})
	}
}

// pacedScrollCommand prints 200 numbered lines a second, in bursts of ten: a log followed
// live, a build's output. Each VNC update then moves the text up by a few lines.
const pacedScrollCommand = `i=0; while :; do for j in 1 2 3 4 5 6 7 8 9 10; do i=$((i+1)); ` +
	`echo "line $i: the quick brown fox jumps over the lazy dog, lorem ipsum dolor sit amet $i"; done; sleep 0.05; done`

// BenchmarkVNCScrollCopies: the xterm scrolls as a followed log does (paced) and as fast as it
// can (unpaced, BenchmarkVNCScroll's workload), watched by a peer that takes COPY messages
// and one that announced none; same run, same desktop. It reports each peer's bytes and the
// copies the first got.
func BenchmarkVNCScrollCopies(b *testing.B) {
	for _, w := range []struct{ name, cmd string }{{"paced", pacedScrollCommand}, {"unpaced", scrollCommand}} {
		b.Run(w.name, func(b *testing.B) {
			d := startTigerVNC(b, benchW, benchH)
			h := newVNCHarness(b, d.addr())
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var peers []*client.Session
			for _, opt := range []client.Option{nil, client.WithoutCopies()} {
				s := h.join(ctx, client.WithoutImageDecoding(), opt)
				peers = append(peers, s)
			}
			c := d.xterm("330x90+0+0", w.cmd)
			defer testproc.Stop(c)
			time.Sleep(time.Second) // the workload gets going
			for range b.N {
				with := measureVNC(b, h, d, peers[:1], fanoutWindow)
				without := measureVNC(b, h, d, peers[1:], fanoutWindow)
				b.ReportMetric(with.bytesPerPeer/(1<<20), "copies-MiB/s")
				b.ReportMetric(with.copiesPerPeer, "copies/s")
				b.ReportMetric(with.updatesPerPeer, "copies-updates/s")
				b.ReportMetric(without.bytesPerPeer/(1<<20), "tiles-MiB/s")
				b.ReportMetric(without.updatesPerPeer, "tiles-updates/s")
				b.ReportMetric(with.cpu, "cpu")
				b.ReportMetric(float64(h.agent.Pipeline().Stats().VideoRegions), "video-regions")
			}
		})
	}
}

// BenchmarkVNCJPEG: BenchmarkVNCImage's image swaps with one non-decoding peer, photographic
// tiles encoded by Go's image/jpeg (the old path) and by TurboJPEG; one desktop each, one
// after the other in the same run.
func BenchmarkVNCJPEG(b *testing.B) {
	for _, c := range []struct {
		name    string
		stdJPEG bool
	}{{"image-jpeg", true}, {"turbojpeg", false}} {
		b.Run(c.name, func(b *testing.B) {
			d := startTigerVNC(b, benchW, benchH)
			h := newVNCHarnessWith(b, d.addr(), pipeline.Config{StdJPEG: c.stdJPEG})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := h.join(ctx, client.WithoutImageDecoding())
			shown, stop := imageSwaps(b, d)
			defer stop()
			time.Sleep(time.Second) // the workload gets going
			for range b.N {
				shown0, p0 := shown.Load(), h.agent.Pipeline().Stats()
				r := measureVNC(b, h, d, []*client.Session{s}, fanoutWindow)
				p1 := h.agent.Pipeline().Stats()
				b.ReportMetric(r.bytesPerPeer/(1<<20), "MiB/s/peer")
				b.ReportMetric(r.updatesPerPeer, "updates/s/peer")
				b.ReportMetric(float64(shown.Load()-shown0)/r.seconds, "changes/s")
				b.ReportMetric(r.cpu, "cpu")
				if n := p1.Encodes - p0.Encodes; n > 0 {
					b.ReportMetric(r.cpu*r.seconds*1e6/float64(n), "process-µs/encode")
				}
			}
		})
	}
}

// BenchmarkBrowserScroll: Chromium's page and a decoding Go peer watch the unpaced scrolling
// xterm on Xtigervnc 1920x1080 together; the FRAMEs each applied per second, same window.
func BenchmarkBrowserScroll(b *testing.B) {
	d := startTigerVNC(b, benchW, benchH)
	h := newVNCHarness(b, d.addr())
	drv := startDriver(b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	drv.do(map[string]any{"cmd": "open", "url": h.url})
	drv.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	drv.do(map[string]any{"cmd": "openConnection", "name": demoConnection, "timeout": 20000})
	s := h.join(ctx)
	x := d.xterm("330x90+0+0", scrollCommand)
	defer testproc.Stop(x)
	time.Sleep(time.Second) // the workload gets going
	pageFrames := func() float64 { f, _ := drv.do(map[string]any{"cmd": "state"})["frames"].(float64); return f }
	for range b.N {
		p0, g0, t0 := pageFrames(), s.Stats().Frames, time.Now()
		time.Sleep(fanoutWindow)
		p1, g1 := pageFrames(), s.Stats().Frames
		el := time.Since(t0).Seconds()
		b.ReportMetric((p1-p0)/el, "page-updates/s")
		b.ReportMetric(float64(g1-g0)/el, "go-updates/s")
		b.ReportMetric((p1-p0)/float64(max(g1-g0, 1)), "page/go")
	}
}
