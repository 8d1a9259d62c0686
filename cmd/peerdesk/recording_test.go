package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/internal/recfile"
	"peerdesk/relay/demo"
	"peerdesk/relay/pipeline"
	"peerdesk/relay/wire"
	"peerdesk/store"
)

// readRecording reads every record of a recording file and the error that ended it.
func readRecording(t testing.TB, path string) (recfile.Meta, []recfile.Record, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, meta, err := recfile.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var recs []recfile.Record
	for {
		rec, err := r.Next()
		if err != nil {
			return meta, recs, err
		}
		rec.Data = bytes.Clone(rec.Data)
		recs = append(recs, rec)
	}
}

// endedRecording waits until live session sid's recording has ended and returns it.
func (h *harness) endedRecording(ctx context.Context, cookie, sid string) store.Recording {
	h.t.Helper()
	for {
		if id := historyRecording(ctx, h.t, h.url, cookie, sid); id != 0 {
			r, err := h.st.Recording(ctx, store.RecordingID(id))
			if err != nil {
				h.t.Fatal(err)
			}
			if !r.EndedAt.IsZero() {
				return r
			}
		}
		select {
		case <-ctx.Done():
			h.t.Fatalf("the recording of session %s never ended", sid)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestRecordingWithoutKeys: a connection recorded without key events gets its pointer input
// in the recording, and none of its keys: the relay never sends them to the recorder. Its
// index is on PostgreSQL.
func TestRecordingWithoutKeys(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, record: true, ownerGrace: 300 * time.Millisecond, postgres: true})
	cookie := h.login(ctx)
	owner := h.join(ctx)
	for _, send := range []func() error{
		func() error { return owner.Key(0x61, true) }, func() error { return owner.Key(0x61, false) },
		func() error { return owner.SetClipboard("secret") },
		func() error { return owner.Pointer(10, 10, 0) },
	} {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	waitApplied(ctx, t, h, 4)
	sid := owner.Hello().Session.ID
	_ = owner.Close()
	r := h.endedRecording(ctx, cookie, sid)
	meta, recs, _ := readRecording(t, filepath.Join(h.data, "recordings", r.File))
	var kinds []byte
	for _, rec := range recs {
		if rec.Kind == recfile.KindInput {
			var in wire.Control
			if err := json.Unmarshal(rec.Data, &in); err != nil {
				t.Fatal(err)
			}
			kinds = append(kinds, in.Input[0])
		}
	}
	if meta.Keys || !bytes.Equal(kinds, []byte{wire.MsgPointer}) {
		t.Errorf("meta keys %v, input records of types %v: want the pointer only", meta.Keys, kinds)
	}
}

// TestRecordSession records a session with an owner and a read-only guest: everyone is told
// it is recorded, the recorder is nobody's participant, and the file holds the display stream
// (its replay matches the desktop before and after the owner's click), the presence, and the
// owner's input with its name — key events too, as the connection asks. An admin downloads it
// and deletes it; the owner may not.
func TestRecordSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := newHarness(t, harnessConfig{demo: demo.Config{Still: true}, record: true, recordKeys: true, ownerGrace: 300 * time.Millisecond})
	cookie := h.login(ctx)
	owner := h.join(ctx)
	sess := owner.Hello().Session
	if sess == nil || !sess.Recording {
		t.Fatalf("owner's hello %+v: want the session marked recorded", sess)
	}
	waitHost(ctx, t, owner, h.desk)
	prof := h.newProfile(ctx, cookie, "Watch", true)
	_, url := h.shareLink(ctx, cookie, owner, prof.ID)
	guest := h.guest(ctx, url)
	if s := guest.Hello().Session; s == nil || !s.Recording {
		t.Fatalf("guest's hello %+v: want the session marked recorded", s)
	}
	err := owner.WaitRoster(ctx, func(r client.Roster) bool { return r.Connections("Anonymous") == 1 })
	if err != nil {
		t.Fatalf("owner never saw the guest: %v", err)
	}
	for _, p := range owner.Roster().Participants {
		if p.Role == "recorder" || p.Name == "Recorder" {
			t.Fatalf("the recorder is a participant: %+v", owner.Roster().Participants)
		}
	}
	if n := len(owner.Roster().Participants); n != 2 {
		t.Fatalf("roster %+v: want the owner and the guest", owner.Roster().Participants)
	}
	if err := owner.Key(0x61, true); err != nil {
		t.Fatal(err)
	}
	if err := owner.Key(0x61, false); err != nil {
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 2)
	waitHost(ctx, t, owner, h.desk)
	before := h.desk.Snapshot()
	if err := owner.Pointer(100, 120, wire.ButtonLeft); err != nil {
		t.Fatal(err)
	}
	if err := owner.Pointer(100, 120, 0); err != nil {
		t.Fatal(err)
	}
	waitApplied(ctx, t, h, 4)
	if diffPixels(before, h.desk.Snapshot()) == 0 {
		t.Fatal("the click did not change the host desktop")
	}
	waitHost(ctx, t, owner, h.desk)
	after := h.desk.Snapshot()
	waitHost(ctx, t, guest, h.desk)
	_ = guest.Close()
	_ = owner.Close() // the session ends after the owner's grace

	r := h.endedRecording(ctx, cookie, sess.ID)
	path := filepath.Join(h.data, "recordings", r.File)
	meta, recs, err := readRecording(t, path)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("recording ends with %v, want a clean end", err)
	}
	if fi, _ := os.Stat(path); fi == nil || fi.Size() != r.Size {
		t.Errorf("index says %d bytes, file has %v", r.Size, fi)
	}
	if meta.Session != sess.ID || meta.ConnectionID != h.connID || !meta.Keys {
		t.Errorf("meta %+v", meta)
	}
	assertRecorded(t, recs, before, after)

	// Only admins get it; an admin downloads and deletes it.
	path = fmt.Sprintf("/api/recordings/%d", r.ID)
	if st := h.api(ctx, http.MethodGet, path+"/file", "", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("anonymous download: status %d", st)
	}
	st, body, header := download(ctx, t, h.url+path+"/file?download=1", cookie)
	if st != http.StatusOK || int64(len(body)) != r.Size || header.Get("Content-Disposition") == "" {
		t.Errorf("download: status %d, %d bytes, disposition %q", st, len(body), header.Get("Content-Disposition"))
	}
	if st := h.api(ctx, http.MethodDelete, path, cookie, nil, nil); st != http.StatusNoContent {
		t.Errorf("delete: status %d", st)
	}
	if _, err := os.Stat(filepath.Join(h.data, "recordings", r.File)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file after delete: %v", err)
	}
	if id := historyRecording(ctx, h.t, h.url, cookie, sess.ID); id != 0 {
		t.Errorf("history still links recording %d", id)
	}
}

// assertRecorded checks a recording of the desktop going from before to after with the owner's
// click: the replay up to the click shows before, the whole replay after; the presence records
// show the guest and never the recorder; the input records name the owner, keys included.
func assertRecorded(t *testing.T, recs []recfile.Record, before, after *image.RGBA) {
	t.Helper()
	clicks, keys, sawGuest, displays := 0, 0, false, 0
	for _, r := range recs {
		switch r.Kind {
		case recfile.KindDisplay:
			if displays++; displays == 1 && r.Data[0] != wire.MsgSize {
				t.Fatalf("the display stream starts with 0x%02x, not SIZE", r.Data[0])
			}
		case recfile.KindInput:
			var in wire.Control
			if err := json.Unmarshal(r.Data, &in); err != nil || in.Name != testAdmin || len(in.Input) == 0 {
				t.Fatalf("input record %q: %v", r.Data, err)
			}
			switch in.Input[0] {
			case wire.MsgKey:
				keys++
			case wire.MsgPointer:
				clicks++
			}
		case recfile.KindControl:
			var c wire.Control
			if err := json.Unmarshal(r.Data, &c); err != nil {
				t.Fatal(err)
			}
			for _, p := range c.Participants {
				sawGuest = sawGuest || p.Name == "Anonymous"
				if p.Role == "recorder" {
					t.Fatalf("presence record lists the recorder: %s", r.Data)
				}
			}
		}
	}
	if clicks != 2 || keys != 2 || !sawGuest {
		t.Fatalf("%d pointer records, %d key records (want 2 each), guest in presence %v", clicks, keys, sawGuest)
	}
	// The display and control channels are not ordered with each other: the desktop before
	// the click shows at some FRAME, the one after it at a later one, and at the end.
	seenBefore, seenAfter := -1, -1
	d := client.NewDisplay(zerolog.Nop())
	for i, r := range recs {
		if r.Kind != recfile.KindDisplay {
			continue
		}
		d.Apply(r.Data)
		if r.Data[0] != wire.MsgFrame {
			continue
		}
		img := d.Image()
		if seenBefore < 0 && diffPixels(img, before) == 0 {
			seenBefore = i
		}
		if seenAfter < 0 && diffPixels(img, after) == 0 {
			seenAfter = i
		}
	}
	if seenBefore < 0 || seenAfter <= seenBefore {
		t.Errorf("the desktop before the click replays at record %d, after it at %d", seenBefore, seenAfter)
	}
	if n := diffPixels(d.Image(), after); n != 0 {
		t.Errorf("whole replay: %d pixels differ from the desktop after the click", n)
	}
}

// stallingFile is a recording file whose writes block while the disk is "stalled".
type stallingFile struct {
	f     *os.File
	mu    sync.Mutex
	gate  chan struct{} // nil while writes pass; closed to let them pass again
	calls atomic.Int64  // writes that reached the file
}

func (s *stallingFile) Write(b []byte) (int, error) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.calls.Add(1)
	return s.f.Write(b)
}

func (s *stallingFile) Close() error { return s.f.Close() }

func (s *stallingFile) stall() {
	s.mu.Lock()
	s.gate = make(chan struct{})
	s.mu.Unlock()
}

func (s *stallingFile) release() {
	s.mu.Lock()
	close(s.gate)
	s.gate = nil
	s.mu.Unlock()
}

// framesIn counts the FRAMEs s receives during d.
func framesIn(s *client.Session, d time.Duration) float64 {
	n := s.Frames()
	time.Sleep(d) // a measurement window
	return float64(s.Frames()-n) / d.Seconds()
}

// TestRecordingStalledDisk: a disk that stops taking the recording's writes holds the recorder
// back (its relay stream waits on it, like any stalled peer's), never the session: the owner's
// frame rate with the disk stalled stays within 80% of the rate before; once the disk is back
// the recorder catches up and the file ends cleanly.
func TestRecordingStalledDisk(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	files := make(chan *stallingFile, 1)
	create := func(path string) (io.WriteCloser, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		s := &stallingFile{f: f}
		files <- s
		return s, nil
	}
	h := newHarness(t, harnessConfig{demo: demo.Config{Width: 640, Height: 360, FPS: 20, Busy: 30},
		record: true, recordCreate: create, recordQueue: 256 << 10, ownerGrace: 300 * time.Millisecond})
	owner := h.join(ctx, client.WithoutImageDecoding())
	file := <-files
	const window = 3 * time.Second
	before := framesIn(owner, window)

	file.stall()
	var recorder pipeline.PeerStats
	for { // the recorder's queue fills, it stops reading, and the relay holds its stream
		for _, st := range h.agent.Pipeline().PeerStats() {
			if st.Behind > 0 && st.Unapplied >= 128<<10 {
				recorder = st
			}
		}
		if recorder.Behind > 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the recorder's stream was never held back: %+v", h.agent.Pipeline().PeerStats())
		case <-time.After(50 * time.Millisecond):
		}
	}
	writes := file.calls.Load()
	stalled := framesIn(owner, window)
	if file.calls.Load() != writes {
		t.Fatal("the disk took writes while stalled")
	}
	t.Logf("owner: %.1f frames/s before, %.1f with the recording's disk stalled", before, stalled)
	if before < 5 || stalled < 0.8*before {
		t.Errorf("owner's frame rate %.1f/s with the disk stalled, %.1f/s before", stalled, before)
	}

	file.release()
	for file.calls.Load() == writes {
		select {
		case <-ctx.Done():
			t.Fatal("the recording never resumed")
		case <-time.After(50 * time.Millisecond):
		}
	}
	sid := owner.Hello().Session.ID
	_ = owner.Close()
	path := filepath.Join(h.data, "recordings", sid+".pdrec")
	for {
		r, err := h.st.Recording(ctx, 1)
		if err == nil && !r.EndedAt.IsZero() {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the recording never ended: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if _, recs, err := readRecording(t, path); !errors.Is(err, io.EOF) || len(recs) == 0 {
		t.Fatalf("recording: %d records, %v", len(recs), err)
	}
}
