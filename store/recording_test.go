package store

import (
	"errors"
	"testing"
	"time"
)

func TestSetRecording(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	c, err := f.s.SetRecording(ctx, f.conn.ID, true, true)
	if err != nil || !c.Record || !c.RecordKeys {
		t.Fatalf("SetRecording(on, keys) = %+v, %v", c, err)
	}
	if c, err := f.s.Connection(ctx, f.conn.ID); err != nil || !c.Record || !c.RecordKeys {
		t.Fatalf("Connection after SetRecording = %+v, %v", c, err)
	}
	if _, err := f.s.SetRecording(ctx, f.conn.ID, false, true); !errors.Is(err, ErrInvalid) {
		t.Errorf("keys without recording: %v, want ErrInvalid", err)
	}
	if _, err := f.s.SetRecording(ctx, 9999, true, false); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown connection: %v, want ErrNotFound", err)
	}
	if c, err := f.s.SetRecording(ctx, f.conn.ID, false, false); err != nil || c.Record || c.RecordKeys {
		t.Fatalf("SetRecording(off) = %+v, %v", c, err)
	}
}

func TestRecordings(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	if err := f.s.StartLiveSession(ctx, "sess-1", f.conn.ID, f.user.ID); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 10, 0, 0, 123e6, time.UTC)
	rec, err := f.s.CreateRecording(ctx, Recording{Session: "sess-1", Connection: f.conn.ID, File: "sess-1.pdrec", StartedAt: start})
	if err != nil || rec.ID == 0 || !rec.StartedAt.Equal(start) {
		t.Fatalf("CreateRecording = %+v, %v", rec, err)
	}
	for _, bad := range []Recording{
		{Session: "sess-1", File: "other.pdrec", StartedAt: start},                          // one per session
		{Session: "sess-2", File: "sess-1.pdrec", StartedAt: start},                         // one per file
		{Session: "sess-3", File: "../etc/passwd.pdrec", StartedAt: start},                  // a path
		{Session: "sess-3", File: ".pdrec", StartedAt: start},                               // no name
		{Session: "a/b", File: "x.pdrec", StartedAt: start},                                 // bad session id
		{Session: "sess-3", File: "x", StartedAt: start},                                    // no extension
		{Session: "sess-3", File: "x.pd/rec", StartedAt: start},                             // a path again
		{Session: "sess-3", File: "x.pdrec\x00", StartedAt: start},                          // a NUL
		{Session: "sess-3", File: "xxxxxxxxxxxxxxxxxx.yyyyyyyyyyyyyyyyy", StartedAt: start}, // long extension
	} {
		if _, err := f.s.CreateRecording(ctx, bad); !errors.Is(err, ErrExists) && !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateRecording(%+v) = %v, want ErrExists or ErrInvalid", bad, err)
		}
	}
	if err := f.s.UpdateRecording(ctx, rec.ID, 1000, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.s.Recording(ctx, rec.ID); err != nil || got.Size != 1000 || !got.EndedAt.IsZero() {
		t.Fatalf("after a size update: %+v, %v", got, err)
	}
	end := start.Add(time.Minute)
	if err := f.s.UpdateRecording(ctx, rec.ID, 2000, end); err != nil {
		t.Fatal(err)
	}
	if err := f.s.UpdateRecording(ctx, rec.ID, 2500, time.Time{}); err != nil { // keeps the end
		t.Fatal(err)
	}
	got, err := f.s.Recording(ctx, rec.ID)
	if err != nil || got.Size != 2500 || !got.EndedAt.Equal(end) || got.File != "sess-1.pdrec" || got.Connection != f.conn.ID {
		t.Fatalf("Recording = %+v, %v", got, err)
	}
	hist, _, err := f.s.History(ctx, HistoryQuery{})
	if err != nil || len(hist) != 1 || hist[0].Recording != rec.ID {
		t.Fatalf("History = %+v, %v: want the session with recording %d", hist, err, rec.ID)
	}
	if all, err := f.s.Recordings(ctx); err != nil || len(all) != 1 {
		t.Fatalf("Recordings = %+v, %v", all, err)
	}
	if err := f.s.DeleteRecording(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteRecording(ctx, rec.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	if err := f.s.UpdateRecording(ctx, rec.ID, 1, time.Time{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a deleted recording: %v", err)
	}
	if hist, _, _ := f.s.History(ctx, HistoryQuery{}); len(hist) != 1 || hist[0].Recording != 0 {
		t.Errorf("History after delete = %+v", hist)
	}
}
