package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/internal/testproc"
	"peerdesk/relay"
	"peerdesk/relay/demo"
	"peerdesk/relay/vnc"
	"peerdesk/store"
)

// recordingWindow is how long each phase of BenchmarkRecording measures.
const recordingWindow = 20 * time.Second

// seekJS seeks the open player to %d ms and resolves to the milliseconds until every display
// message of the seek was applied (presented at its last FRAME).
const seekJS = `(async () => {
  const v = document.getElementById('view-player');
  const s = document.getElementById('player-seek');
  const t0 = performance.now();
  s.value = '%d';
  s.dispatchEvent(new Event('input'));
  while (Number(v.dataset.applied) < Number(v.dataset.pushed)) await new Promise((r) => setTimeout(r, 2));
  return performance.now() - t0;
})()`

// BenchmarkRecording: the same session with recording off, then on, one non-decoding viewer:
// the 1920x1080 demo (clock, moving box), and Xtigervnc at 1920x1080 with a followed log
// (paced xterm) and with a 720p video. It reports the recording's bytes per minute, this
// process's CPU (server, agent and recorder) with and without it, the full frames it holds per
// minute, and, for the demo, how long Chromium's player takes to seek to 10 random points.
func BenchmarkRecording(b *testing.B) {
	for _, w := range []string{"demo", "vnc-log", "vnc-video"} {
		b.Run(w, func(b *testing.B) {
			cfg := harnessConfig{demo: demo.Config{Width: benchW, Height: benchH}, ownerGrace: 200 * time.Millisecond}
			var d *tigerVNC
			if w != "demo" {
				d = startTigerVNC(b, benchW, benchH)
				cfg.source = func(log zerolog.Logger) (relay.Source, error) {
					return vnc.New(vnc.Config{Addr: d.addr(), Logger: log, MinBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond})
				}
			}
			h := newHarness(b, cfg)
			switch w {
			case "vnc-log":
				c := d.xterm("330x90+0+0", pacedScrollCommand)
				b.Cleanup(func() { testproc.Stop(c) })
			case "vnc-video":
				thinWorkload(b, d, "video")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cookie := h.login(ctx)
			for range b.N {
				off := recordingPhase(ctx, b, h, cookie, false)
				on := recordingPhase(ctx, b, h, cookie, true)
				b.ReportMetric(off.cpu, "cpu-off")
				b.ReportMetric(on.cpu, "cpu-on")
				b.ReportMetric(on.cpu/off.cpu, "cpu-ratio")
				b.ReportMetric(float64(on.bytes)/(1<<20)/recordingWindow.Minutes(), "MiB/min")
				b.ReportMetric(float64(on.keyframes)/recordingWindow.Minutes(), "fullframes/min")
				if w == "demo" {
					seeks := seekTimes(ctx, b, h, on.recording)
					b.ReportMetric(ms(percentile(seeks, 50)), "seek-p50-ms")
					b.ReportMetric(ms(percentile(seeks, 100)), "seek-max-ms")
				}
			}
		})
	}
}

// recordingResult is what one phase of BenchmarkRecording measured.
type recordingResult struct {
	cpu       float64 // this process's cores
	bytes     int64   // recorded during the window
	keyframes int
	recording store.RecordingID
}

// recordingPhase runs one session with recording on or off: a viewer joins, the workload
// runs a second, and a window measures; the session then ends (and its recording with it).
func recordingPhase(ctx context.Context, b *testing.B, h *harness, cookie string, record bool) recordingResult {
	b.Helper()
	if _, err := h.st.SetRecording(ctx, store.ConnectionID(h.connID), record, false); err != nil {
		b.Fatal(err)
	}
	s := h.join(ctx, client.WithoutImageDecoding())
	sid := s.Hello().Session.ID
	path := filepath.Join(h.data, "recordings", sid+".pdrec")
	time.Sleep(time.Second) // warm up
	size0 := fileSize(path)
	cpu0, t0 := cpuSeconds(), time.Now()
	time.Sleep(recordingWindow)
	r := recordingResult{cpu: (cpuSeconds() - cpu0) / time.Since(t0).Seconds(), bytes: fileSize(path) - size0}
	s.Close()
	for { // the next phase needs a new session
		var live []any
		h.api(ctx, "GET", "/api/sessions", cookie, nil, &live)
		if len(live) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			b.Fatal("the session never ended")
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !record {
		return r
	}
	rec := h.endedRecording(ctx, cookie, sid)
	r.recording = rec.ID
	_, recs, _ := readRecording(b, path)
	r.keyframes = keyframes(recs) - 1 // the first is the join's
	return r
}

// fileSize is the size of a file, 0 if it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// seekTimes opens recording id in Chromium's player and seeks to 10 random points.
func seekTimes(ctx context.Context, b *testing.B, h *harness, id store.RecordingID) []time.Duration {
	b.Helper()
	dr := startDriver(b)
	defer dr.close()
	dr.do(map[string]any{"cmd": "open", "url": h.url})
	dr.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	dr.do(map[string]any{"cmd": "eval", "js": fmt.Sprintf("location.hash = '#/recording/%d'", id)})
	st := dr.waitPlayer(ctx, "loaded", func(s playerState) bool { return s.Duration > 0 && s.State != "loading" })
	dr.do(map[string]any{"cmd": "eval", "js": "document.getElementById('player-play').click()"}) // pause
	rnd := rand.New(rand.NewPCG(1, 2))
	var out []time.Duration
	for range 10 {
		r := dr.do(map[string]any{"cmd": "eval", "js": fmt.Sprintf(seekJS, rnd.Int64N(st.Duration))})
		v, _ := r["value"].(float64)
		out = append(out, time.Duration(v*float64(time.Millisecond)))
	}
	slices.Sort(out)
	b.Logf("seeks: %s", strings.Trim(fmt.Sprint(out), "[]"))
	return out
}
