package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/internal/recfile"
	"peerdesk/relay/demo"
	"peerdesk/relay/wire"
	"peerdesk/store"
)

// frameAt replays recs up to the last FRAME at or before t and returns the image then, and
// the time of that FRAME: what a player shows at t.
func frameAt(recs []recfile.Record, t time.Duration) (*image.RGBA, time.Duration) {
	d := client.NewDisplay(zerolog.Nop())
	var img *image.RGBA
	var at time.Duration
	for _, r := range recs {
		if r.At > t {
			break
		}
		if r.Kind != recfile.KindDisplay {
			continue
		}
		d.Apply(r.Data)
		if r.Data[0] == wire.MsgFrame {
			img, at = d.Image(), r.At
		}
	}
	return img, at
}

// keyframes counts the SIZE messages of a recording: the points a player can seek from.
func keyframes(recs []recfile.Record) int {
	n := 0
	for _, r := range recs {
		if r.Kind == recfile.KindDisplay && r.Data[0] == wire.MsgSize {
			n++
		}
	}
	return n
}

// playerState reads the player view's data attributes.
type playerState struct {
	State    string `json:"state"`
	Position int64  `json:"position,string"`
	Duration int64  `json:"duration,string"`
	Pushed   int64  `json:"pushed,string"`
	Applied  int64  `json:"applied,string"`
	Events   string `json:"events"`
}

func (d *driver) player() playerState {
	d.t.Helper()
	r := d.do(map[string]any{"cmd": "eval", "js": `(() => {
	  const v = document.getElementById('view-player');
	  return JSON.stringify({...v.dataset, events: document.getElementById('player-events').textContent});
	})()`})
	var s playerState
	if err := json.Unmarshal([]byte(r["value"].(string)), &s); err != nil {
		d.t.Fatalf("player state %v: %v", r["value"], err)
	}
	return s
}

// waitPlayer polls the player until cond holds.
func (d *driver) waitPlayer(ctx context.Context, what string, cond func(playerState) bool) playerState {
	d.t.Helper()
	for {
		s := d.player()
		if cond(s) {
			return s
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("player never %s: %+v", what, s)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// seekShows seeks the player to t and waits until its canvas shows want at pts.
func (d *driver) seekShows(ctx context.Context, t time.Duration, want *image.RGBA, pts []image.Point) {
	d.t.Helper()
	d.do(map[string]any{"cmd": "eval", "js": fmt.Sprintf(`(() => {
	  const s = document.getElementById('player-seek');
	  s.value = '%d';
	  s.dispatchEvent(new Event('input'));
	})()`, t.Milliseconds())})
	d.waitPlayer(ctx, "applied the seek", func(s playerState) bool { return s.Position == t.Milliseconds() && s.Applied >= s.Pushed })
	for {
		bad := d.mismatchesOf("#player-canvas", pts, want)
		if len(bad) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			d.t.Fatalf("at %v the player differs from the recording at %d of %d points, e.g. %s", t, len(bad), len(pts), bad[0])
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestBrowserRecording records a live demo session with an anonymous guest in Chromium, who is
// shown the session is recorded; an admin watches the recording in Chromium while it is live
// (it grows), and once the session ended plays it: after seeks forward and back (across the
// recorder's full frames) the canvas shows exactly what the Go replay of the file shows at
// those times; the guest's join and leave are on the timeline; 4x plays faster than real time.
func TestBrowserRecording(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	h := newHarness(t, harnessConfig{demo: demo.Config{FPS: 20}, record: true, ownerGrace: 300 * time.Millisecond})
	cookie := h.login(ctx)
	owner := h.join(ctx, client.WithoutImageDecoding())
	sid := owner.Hello().Session.ID
	prof := h.newProfile(ctx, cookie, "Watch", true)
	_, url := h.shareLink(ctx, cookie, owner, prof.ID)
	d := startDriver(t)
	d.do(map[string]any{"cmd": "openShare", "url": url, "context": "guest", "page": "guest"})
	if r := d.do(map[string]any{"cmd": "eval", "page": "guest", "js": "!document.getElementById('recording-mark').hidden"}); r["value"] != true {
		t.Fatal("the guest's page does not show the session is recorded")
	}
	var recID int64
	for recID == 0 {
		recID = historyRecording(ctx, t, h.url, cookie, sid)
	}
	d.do(map[string]any{"cmd": "open", "url": h.url})
	d.do(map[string]any{"cmd": "login", "username": testAdmin, "password": testPassword})
	hist := d.do(map[string]any{"cmd": "history"})
	raw, _ := json.Marshal(hist["sessions"])
	var rows []struct{ Session, Recording string }
	_ = json.Unmarshal(raw, &rows)
	link := ""
	for _, r := range rows {
		if r.Session == sid {
			link = r.Recording
		}
	}
	if want := fmt.Sprintf("#/recording/%d", recID); link != want {
		t.Fatalf("History links the live session's recording as %q, want %q", link, want)
	}
	d.do(map[string]any{"cmd": "eval", "js": "document.querySelector('a.history-recording').click()"}) // the newest session's
	first := d.waitPlayer(ctx, "showed the live recording", func(s playerState) bool { return s.Duration > 0 })
	if err := owner.Pointer(40, 50, 0); err != nil { // the player shows it where it was
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 1)

	d.do(map[string]any{"cmd": "open", "page": "guest", "url": "about:blank"}) // the guest leaves
	if err := owner.WaitRoster(ctx, func(r client.Roster) bool { return r.Connections("Anonymous") == 0 }); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(h.data, "recordings", sid+".pdrec")
	for { // the recorder asks for a full frame every 5 s of an animated desktop
		_, recs, _ := readRecording(t, path)
		if keyframes(recs) >= 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the recording never got a second full frame (%d records)", len(recs))
		case <-time.After(200 * time.Millisecond):
		}
	}
	d.waitPlayer(ctx, "followed the live recording", func(s playerState) bool { return s.Duration > first.Duration+1000 })
	_ = owner.Close()
	for {
		r, err := h.st.Recording(ctx, store.RecordingID(recID))
		if err != nil {
			t.Fatal(err)
		}
		if !r.EndedAt.IsZero() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the recording never ended")
		case <-time.After(50 * time.Millisecond):
		}
	}
	_, recs, _ := readRecording(t, path)
	end := recs[len(recs)-1].At
	d.waitPlayer(ctx, "read the whole recording", func(s playerState) bool { return s.Duration == end.Milliseconds() })

	pts := samplePoints(320, 240, 160, 120)
	var sizes []time.Duration
	for _, r := range recs {
		if r.Kind == recfile.KindDisplay && r.Data[0] == wire.MsgSize {
			sizes = append(sizes, r.At)
		}
	}
	early, earlyAt := frameAt(recs, sizes[1]-500*time.Millisecond) // before the second full frame
	late, lateAt := frameAt(recs, end)
	mid, midAt := frameAt(recs, sizes[1]+700*time.Millisecond)
	if early == nil || diffPixels(early, late) == 0 {
		t.Fatal("the recording shows no change to seek between")
	}
	d.do(map[string]any{"cmd": "eval", "js": "document.getElementById('player-play').textContent === 'Pause' && document.getElementById('player-play').click()"})
	d.seekShows(ctx, earlyAt, early, pts)
	d.seekShows(ctx, lateAt, late, pts)   // forward, past a full frame
	d.seekShows(ctx, earlyAt, early, pts) // back, from the first full frame
	d.seekShows(ctx, midAt, mid, pts)     // forward again, from the second
	if r := d.do(map[string]any{"cmd": "eval", "js": `(() => {
	  const p = document.querySelector('#player-pointers .peer-pointer[data-name="admin"]');
	  return p ? p.dataset.x + ',' + p.dataset.y : '';
	})()`}); r["value"] != "40,50" {
		t.Errorf("the owner's recorded pointer shows at %v, want 40,50", r["value"])
	}
	if s := d.player(); !strings.Contains(s.Events, "Anonymous joined") || !strings.Contains(s.Events, "Anonymous left") {
		t.Errorf("timeline events %q: want the guest's join and leave", s.Events)
	}

	// 4x: from the start to the end in well under real time.
	d.do(map[string]any{"cmd": "eval", "js": `(() => {
	  const sp = document.getElementById('player-speed');
	  sp.value = '4';
	  sp.dispatchEvent(new Event('change'));
	  const s = document.getElementById('player-seek');
	  s.value = '0';
	  s.dispatchEvent(new Event('input'));
	  document.getElementById('player-play').click();
	})()`})
	start := time.Now()
	d.waitPlayer(ctx, "played to the end", func(s playerState) bool { return s.State == "paused" && s.Position == end.Milliseconds() })
	if took := time.Since(start); took > end/2 {
		t.Errorf("4x played %v of recording in %v", end, took)
	}
}
