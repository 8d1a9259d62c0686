package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/client"
	"peerdesk/internal/recfile"
	"peerdesk/internal/testproc"
	"peerdesk/relay/wire"
)

// apiCall calls the JSON API at url with a login cookie (none if empty), decoding the reply
// into out (if not nil and the reply has a body); it returns the status and the reply's
// headers.
func apiCall(ctx context.Context, t testing.TB, method, url, cookie string, body, out any) (int, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.Header.Set("Cookie", "peerdesk_session="+cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %q: %v", method, url, b, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// download GETs url with a login cookie (none if empty) and returns the status, body and
// headers.
func download(ctx context.Context, t testing.TB, url, cookie string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", "peerdesk_session="+cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// historyRecording returns the recording id the history of the server at url gives live
// session sid, 0 if none; the session must be in the history's first page.
func historyRecording(ctx context.Context, t testing.TB, url, cookie, sid string) int64 {
	t.Helper()
	var hist struct {
		Sessions []struct {
			ID        string `json:"id"`
			Recording int64  `json:"recording"`
		} `json:"sessions"`
	}
	if st, _ := apiCall(ctx, t, http.MethodGet, url+"/api/history", cookie, nil, &hist); st != http.StatusOK {
		t.Fatalf("history: status %d", st)
	}
	for _, s := range hist.Sessions {
		if s.ID == sid {
			return s.Recording
		}
	}
	t.Fatalf("session %s not in the history", sid)
	return 0
}

// recordedFor reads what a recording file holds so far: the time of its last complete
// record, and 0 while it has none (or does not exist yet).
func recordedFor(path string) time.Duration {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	r, _, err := recfile.NewReader(bytes.NewReader(b))
	if err != nil {
		return 0
	}
	var last time.Duration
	for {
		rec, err := r.Next()
		if err != nil {
			return last
		}
		last = rec.At
	}
}

// TestRecordingSurvivesKill: `peerdesk demo` killed with SIGKILL in the middle of a recorded
// session leaves a file that reads, and replays, up to its last second; started again on the
// same data, the server completes the recording's index entry and serves it.
func TestRecordingSurvivesKill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bin := peerdeskBinary(t)
	data := t.TempDir()
	args := []string{"-listen", fmt.Sprintf("127.0.0.1:%d", testproc.FreePort(t)), "-demo-size", "320x240", "-turn-udp", "", "-log-level", "warn"}
	p := startDemoProcess(t, bin, data, args...)
	cookie, err := client.Login(ctx, p.url, testAdmin, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	var conns []struct {
		ID int64 `json:"id"`
	}
	if st, _ := apiCall(ctx, t, http.MethodGet, p.url+"/api/connections", cookie, nil, &conns); st != http.StatusOK || len(conns) != 1 {
		t.Fatalf("connections: status %d, %+v", st, conns)
	}
	connPath := fmt.Sprintf("%s/api/connections/%d", p.url, conns[0].ID)
	if st, _ := apiCall(ctx, t, http.MethodPatch, connPath, cookie, map[string]any{"record": true}, nil); st != http.StatusOK {
		t.Fatalf("record on: status %d", st)
	}
	owner, err := client.Join(ctx, p.url, conns[0].ID, cookie, client.WithSettingEngine(*loopbackEngine()), client.WithoutImageDecoding())
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	sid := owner.Hello().Session.ID
	path := filepath.Join(data, "recordings", sid+".pdrec")
	for recordedFor(path) < 3*time.Second {
		select {
		case <-ctx.Done():
			t.Fatalf("the recording never reached 3 s (%v)", recordedFor(path))
		case <-time.After(100 * time.Millisecond):
		}
	}
	time.Sleep(700 * time.Millisecond) // the crash comes between two flushes, not right after one
	killed := time.Now()
	p.kill()

	meta, recs, err := readRecording(t, path)
	if !errors.Is(err, io.EOF) && !errors.Is(err, recfile.ErrTruncated) {
		t.Fatalf("the killed recording reads to %v, want its last complete record", err)
	}
	lost := killed.Sub(meta.Started) - recs[len(recs)-1].At
	t.Logf("recorded %v; lost the last %v", recs[len(recs)-1].At, lost)
	if lost > 2500*time.Millisecond {
		t.Errorf("the kill lost the last %v of the recording, want at most about 2 s", lost)
	}
	d := client.NewDisplay(zerolog.Nop())
	for _, r := range recs {
		if r.Kind != recfile.KindDisplay {
			continue
		}
		if d.Stats().Messages == 0 && r.Data[0] != wire.MsgSize {
			t.Errorf("the display stream starts with 0x%02x, not SIZE", r.Data[0])
		}
		d.Apply(r.Data)
	}
	if st := d.Stats(); st.Frames < 10 || st.DecodeErrors != 0 || d.Image() == nil {
		t.Errorf("replay of the killed recording: %+v", st)
	}

	_ = owner.Close()
	p2 := startDemoProcess(t, bin, data, args...)
	cookie, err = client.Login(ctx, p2.url, testAdmin, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	id := historyRecording(ctx, t, p2.url, cookie, sid)
	if id == 0 {
		t.Fatalf("history after the restart has no recording of session %s", sid)
	}
	st, body, header := download(ctx, t, fmt.Sprintf("%s/api/recordings/%d/file", p2.url, id), cookie)
	fi, _ := os.Stat(path)
	if st != http.StatusOK || int64(len(body)) != fi.Size() || header.Get("X-Recording-Live") != "" {
		t.Errorf("recording after the restart: status %d, %d of %d bytes, live %q", st, len(body), fi.Size(), header.Get("X-Recording-Live"))
	}
}
