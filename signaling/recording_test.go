package signaling_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"peerdesk/signaling"
	"peerdesk/store"
)

// TestRecordingRetention: recordings ended longer ago than MaxAge go, then the oldest ended
// ones until all (those in progress too) take at most MaxBytes; a recording in progress stays
// whatever its age.
func TestRecordingRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	e := newEnv(t, signaling.Config{Now: func() time.Time { return now },
		Recording: signaling.RecordingConfig{Dir: dir, MaxAge: 24 * time.Hour, MaxBytes: 300}})
	ctx := context.Background()
	admin := e.user("root", true)
	c, _ := e.connection("Desk", admin)
	type rec struct {
		name     string
		age      time.Duration // since it ended; 0: in progress
		size     int64
		survives bool
	}
	recs := []rec{
		{"too-old", 48 * time.Hour, 10, false},
		{"oldest-within-age", 20 * time.Hour, 200, false}, // over the size budget with the others
		{"recent", 2 * time.Hour, 150, true},
		{"newest", time.Hour, 100, true},
		{"in-progress", 0, 50, true}, // counts towards the total, but is never removed
	}
	ids := make([]store.RecordingID, len(recs))
	for i, r := range recs {
		sid := "s-" + r.name
		if err := e.st.StartLiveSession(ctx, sid, c.ID, admin.ID); err != nil {
			t.Fatal(err)
		}
		start := now.Add(-r.age - time.Minute)
		if r.age == 0 {
			start = now.Add(-100 * 24 * time.Hour)
		}
		got, err := e.st.CreateRecording(ctx, store.Recording{Session: sid, Connection: c.ID, File: sid + ".pdrec", StartedAt: start})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = got.ID
		var ended time.Time
		if r.age != 0 {
			ended = now.Add(-r.age)
		}
		if err := e.st.UpdateRecording(ctx, got.ID, r.size, ended); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sid+".pdrec"), make([]byte, r.size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := signaling.PruneRecordings(e.srv); err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		_, err := e.st.Recording(ctx, ids[i])
		_, ferr := os.Stat(filepath.Join(dir, "s-"+r.name+".pdrec"))
		if kept := err == nil; kept != r.survives {
			t.Errorf("%s: kept %v (%v), want %v", r.name, kept, err, r.survives)
		}
		if kept := ferr == nil; kept != r.survives {
			t.Errorf("%s: file kept %v, want %v", r.name, kept, r.survives)
		}
	}
}

// TestRecordingAPI: only admins set a connection's recording, read and delete recordings; a
// server without a recordings directory refuses to record; a recording in progress is served
// (with ranges, marked live) but not deleted.
func TestRecordingAPI(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, signaling.Config{Recording: signaling.RecordingConfig{Dir: dir}})
	ctx := context.Background()
	e.user("root", true)
	user := e.user("ann", false)
	c, _ := e.connection("Desk", user)
	root, ann := e.login("root"), e.login("ann")
	path := "/api/connections/" + strconv.FormatInt(int64(c.ID), 10)
	if resp, _ := e.do(http.MethodPatch, path, ann, `{"record":true}`); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a user sets recording: status %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		body string
		want int
	}{{`{"record":true,"recordKeys":true}`, 200}, {`{"recordKeys":true}`, 400}, {`{"record":"yes"}`, 400}, {`{"record":false,"recordKeys":true}`, 200}} {
		if resp, b := e.do(http.MethodPatch, path, root, tc.body); resp.StatusCode != tc.want {
			t.Errorf("PATCH %s: status %d (%s), want %d", tc.body, resp.StatusCode, b, tc.want)
		}
	}
	if got, _ := e.st.Connection(ctx, c.ID); got.Record || got.RecordKeys {
		t.Errorf("record false with keys: %+v, want both off", got)
	}

	if err := e.st.StartLiveSession(ctx, "live-1", c.ID, user.ID); err != nil {
		t.Fatal(err)
	}
	rec, err := e.st.CreateRecording(ctx, store.Recording{Session: "live-1", Connection: c.ID, File: "live-1.pdrec", StartedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rec.File), []byte("0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := "/api/recordings/" + strconv.FormatInt(int64(rec.ID), 10)
	if resp, _ := e.do(http.MethodGet, file+"/file", ann, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a user downloads: status %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+file+"/file", nil)
	req.AddCookie(root)
	req.Header.Set("Range", "bytes=4-")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("X-Recording-Live") != "1" || resp.ContentLength != 6 {
		t.Errorf("range of a live recording: status %d, live %q, %d bytes", resp.StatusCode, resp.Header.Get("X-Recording-Live"), resp.ContentLength)
	}
	if resp, _ := e.do(http.MethodDelete, file, root, ""); resp.StatusCode != http.StatusConflict {
		t.Errorf("delete while recorded: status %d", resp.StatusCode)
	}
	if err := e.st.UpdateRecording(ctx, rec.ID, 10, time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do(http.MethodDelete, file, ann, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a user deletes: status %d", resp.StatusCode)
	}
	if resp, _ := e.do(http.MethodDelete, file, root, ""); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: status %d", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, rec.File)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file after delete: %v", err)
	}
	if resp, _ := e.do(http.MethodGet, file+"/file", root, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted recording: status %d", resp.StatusCode)
	}

	off := newEnv(t, signaling.Config{Recording: signaling.RecordingConfig{Dir: dir, Disabled: true}})
	off.user("root", true)
	c2, _ := off.connection("Desk")
	if resp, _ := off.do(http.MethodPatch, "/api/connections/"+strconv.FormatInt(int64(c2.ID), 10), off.login("root"), `{"record":true}`); resp.StatusCode != http.StatusConflict {
		t.Errorf("recording on a server that records nothing: status %d", resp.StatusCode)
	}
	if resp, _ := e.do(http.MethodPost, "/ws/peer?record=x", root, ""); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") == "" {
		t.Errorf("POST to the recorder's socket: status %d", resp.StatusCode)
	}
}

// TestRecorderOnlyFromTheServer: the recorder's socket (?record=) is refused from outside.
func TestRecorderOnlyFromTheServer(t *testing.T) {
	e := newEnv(t, signaling.Config{Recording: signaling.RecordingConfig{Dir: t.TempDir()}})
	resp, _ := e.do(http.MethodGet, "/ws/peer?record=anything", nil, "")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an outside recorder: status %d", resp.StatusCode)
	}
}
