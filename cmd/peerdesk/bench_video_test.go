package main

import (
	"context"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"peerdesk/client"
	"peerdesk/internal/imgcmp"
	"peerdesk/internal/testproc"
)

// BenchmarkVNCVideo: ffplay's testsrc2 (1280x720, 25 frames a second) plays on a 1920x1080
// Xtigervnc. peers=1: a decoding peer that takes video beside one that takes tiles only
// (client.WithoutVideo), in the same window: bytes and updates per second of each, and the
// quality of what each shows of the video region (PSNR against the host's framebuffer, with
// the player paused, three times: median and worst). peers=16: sixteen non-decoding peers
// with video, then sixteen without, on one desktop: bytes per peer and this process's CPU.
func BenchmarkVNCVideo(b *testing.B) {
	testproc.NeedBins(b, "Xtigervnc", "ffplay", "xdotool")
	b.Run("peers=1", func(b *testing.B) {
		d := startTigerVNC(b, benchW, benchH)
		h := newVNCHarness(b, d.addr())
		player := playVideo(b, d)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		video, tiles := h.join(ctx), h.join(ctx, client.WithoutVideo())
		time.Sleep(2 * time.Second) // the video region is found, the peers hold a keyframe
		for range b.N {
			p0 := h.agent.Pipeline().Stats()
			rv, rt := measureTwo(b, h, d, video, tiles)
			p1 := h.agent.Pipeline().Stats()
			b.ReportMetric(float64(p1.VideoBytes-p0.VideoBytes)/rv.seconds/(1<<10), "encoded-video-KiB/s")
			b.ReportMetric(float64(p1.VideoKeyframes-p0.VideoKeyframes)/rv.seconds, "keyframes/s")
			b.ReportMetric(float64(p1.VideoRegions), "regions")
			b.ReportMetric(rv.bytesPerPeer/(1<<10), "video-KiB/s")
			b.ReportMetric(rt.bytesPerPeer/(1<<10), "tiles-KiB/s")
			b.ReportMetric(rv.bytesPerPeer/rt.bytesPerPeer, "video/tiles-bytes")
			b.ReportMetric(rv.updatesPerPeer, "video-updates/s")
			b.ReportMetric(rt.updatesPerPeer, "tiles-updates/s")
			b.ReportMetric(rv.videoPerPeer, "video-frames/s")
			qv, qt := pausedQuality(b, h, player, video, tiles)
			b.ReportMetric(qv[1], "video-psnr-dB")
			b.ReportMetric(qv[0], "video-worst-psnr-dB")
			b.ReportMetric(qv[2], "video-ssim")
			b.ReportMetric(qt[1], "tiles-psnr-dB")
			b.ReportMetric(qt[2], "tiles-ssim")
		}
	})
	b.Run("peers=16", func(b *testing.B) {
		d := startTigerVNC(b, benchW, benchH)
		h := newVNCHarness(b, d.addr())
		playVideo(b, d)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		for range b.N {
			for _, mode := range []struct {
				name string
				opt  client.Option
			}{{"video", nil}, {"tiles", client.WithoutVideo()}} {
				peers := make([]*client.Session, 16)
				for i := range peers {
					peers[i] = h.join(ctx, client.WithoutImageDecoding(), mode.opt)
				}
				time.Sleep(2 * time.Second)
				r := measureVNC(b, h, d, peers, fanoutWindow)
				for _, p := range peers {
					p.Close()
				}
				b.ReportMetric(r.bytesPerPeer/(1<<10), mode.name+"-KiB/s/peer")
				b.ReportMetric(r.updatesPerPeer, mode.name+"-updates/s/peer")
				b.ReportMetric(r.cpu, mode.name+"-cpu")
			}
		}
	})
}

// twoResult is what measureTwo measured of one peer.
type twoResult struct {
	vncResult
	videoPerPeer float64 // video frames decoded per second
}

// measureTwo measures two peers over the same window.
func measureTwo(b *testing.B, h *harness, d *tigerVNC, x, y *client.Session) (twoResult, twoResult) {
	b.Helper()
	x0, y0 := x.Stats(), y.Stats()
	r := measureVNC(b, h, d, nil, fanoutWindow)
	x1, y1 := x.Stats(), y.Stats()
	per := func(s0, s1 client.Stats) twoResult {
		t := twoResult{vncResult: r}
		t.bytesPerPeer = float64(s1.Bytes-s0.Bytes) / r.seconds
		t.updatesPerPeer = float64(s1.Frames-s0.Frames) / r.seconds
		t.videoPerPeer = float64(s1.VideoFrames-s0.VideoFrames) / r.seconds
		return t
	}
	return per(x0, x1), per(y0, y1)
}

// pausedQuality pauses the player three times and, once the last picture reached both
// peers, returns the worst and the median PSNR, and the median SSIM, of each peer's video
// region against the host's.
func pausedQuality(b *testing.B, h *harness, player *exec.Cmd, x, y *client.Session) (qx, qy [3]float64) {
	b.Helper()
	var ax, ay, sx, sy []float64
	for range 3 {
		if err := player.Process.Signal(syscall.SIGSTOP); err != nil {
			b.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond) // the last picture is encoded and delivered; the region still plays
		host, ix, iy := h.agent.Pipeline().Snapshot(), x.Image(), y.Image()
		ax, ay = append(ax, imgcmp.PSNR(host, ix, videoRect)), append(ay, imgcmp.PSNR(host, iy, videoRect))
		sx, sy = append(sx, imgcmp.SSIM(host, ix, videoRect)), append(sy, imgcmp.SSIM(host, iy, videoRect))
		if err := player.Process.Signal(syscall.SIGCONT); err != nil {
			b.Fatal(err)
		}
		time.Sleep(2 * time.Second) // the video region again
	}
	for _, v := range [][]float64{ax, ay, sx, sy} {
		slices.Sort(v)
	}
	return [3]float64{ax[0], ax[1], sx[1]}, [3]float64{ay[0], ay[1], sy[1]}
}
