package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStartLiveSession(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name, id string
		conn     ConnectionID
		owner    UserID
		want     error
	}{
		{"ok", "abc-DEF_123", f.conn.ID, f.user.ID, nil},
		{"64 chars", strings.Repeat("a", 64), f.conn.ID, f.user.ID, nil},
		{"duplicate", "abc-DEF_123", f.conn.ID, f.user.ID, ErrExists},
		{"empty id", "", f.conn.ID, f.user.ID, ErrInvalid},
		{"65 chars", strings.Repeat("a", 65), f.conn.ID, f.user.ID, ErrInvalid},
		{"slash", "a/b", f.conn.ID, f.user.ID, ErrInvalid},
		{"space", "a b", f.conn.ID, f.user.ID, ErrInvalid},
		{"non-ASCII", "é", f.conn.ID, f.user.ID, ErrInvalid},
		{"unknown connection", "s-conn", 12345, f.user.ID, ErrNotFound},
		{"unknown owner", "s-owner", f.conn.ID, 12345, ErrNotFound},
	} {
		err := f.s.StartLiveSession(ctx, tc.id, tc.conn, tc.owner)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: StartLiveSession = %v, want %v", tc.name, err, tc.want)
		}
		var fe *FieldError
		if errors.Is(tc.want, ErrInvalid) && (!errors.As(err, &fe) || fe.Field != "id") {
			t.Errorf("%s: error %v does not name the id field", tc.name, err)
		}
	}
	if n := countRows(t, f.s, `SELECT COUNT(*) FROM live_sessions WHERE ended_at IS NULL AND owner_id = ?`, f.user.ID); n != 2 {
		t.Errorf("%d open sessions recorded, want 2", n)
	}
}

// sessionEnd reads a live session's end time (unix seconds, 0 while open) and reason.
func sessionEnd(t *testing.T, s *Store, id string) (int64, string) {
	t.Helper()
	var ended *int64
	var reason *string
	if err := s.db.QueryRowContext(t.Context(),
		`SELECT ended_at, end_reason FROM live_sessions WHERE id = ?`, id).Scan(&ended, &reason); err != nil {
		t.Fatal(err)
	}
	if ended == nil || reason == nil {
		return 0, ""
	}
	return *ended, *reason
}

func TestEndLiveSessionIdempotent(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	f.session(t, "s1", f.conn.ID)
	f.clock.Advance(time.Minute)
	first := f.clock.Now().Unix()
	if err := f.s.EndLiveSession(ctx, "s1", "owner left"); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	if err := f.s.EndLiveSession(ctx, "s1", "killed"); err != nil {
		t.Errorf("second EndLiveSession = %v, want nil", err)
	}
	if at, reason := sessionEnd(t, f.s, "s1"); at != first || reason != "owner left" {
		t.Errorf("session end = %d %q, want the first end %d %q", at, reason, first, "owner left")
	}
	if err := f.s.EndLiveSession(ctx, "never-started", "x"); err != nil {
		t.Errorf("EndLiveSession(unknown) = %v, want nil", err)
	}
	for _, reason := range []string{strings.Repeat("r", 201), "bad \xff"} {
		if err := f.s.EndLiveSession(ctx, "s1", reason); !errors.Is(err, ErrInvalid) {
			t.Errorf("EndLiveSession(reason %q) = %v, want ErrInvalid", reason, err)
		}
	}
}

func TestEndAllLiveSessions(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	for _, id := range []string{"a", "b", "c"} {
		f.session(t, id, f.conn.ID)
	}
	if err := f.s.EndLiveSession(ctx, "a", "owner left"); err != nil {
		t.Fatal(err)
	}
	endA, _ := sessionEnd(t, f.s, "a")
	f.clock.Advance(time.Hour)
	n, err := f.s.EndAllLiveSessions(ctx, "server restarted")
	if err != nil || n != 2 {
		t.Fatalf("EndAllLiveSessions = %d, %v; want 2 (the open ones)", n, err)
	}
	want := map[string]struct {
		at     int64
		reason string
	}{
		"a": {endA, "owner left"},
		"b": {f.clock.Now().Unix(), "server restarted"},
		"c": {f.clock.Now().Unix(), "server restarted"},
	}
	for id, w := range want {
		if at, reason := sessionEnd(t, f.s, id); at != w.at || reason != w.reason {
			t.Errorf("session %s end = %d %q, want %d %q", id, at, reason, w.at, w.reason)
		}
	}
	if n, err := f.s.EndAllLiveSessions(ctx, "server restarted"); err != nil || n != 0 {
		t.Errorf("second EndAllLiveSessions = %d, %v; want 0", n, err)
	}
}

// TestDeleteUserKeepsSharingHistory: the owner and link creator going away leaves the session
// and link rows, with no user.
func TestDeleteUserKeepsSharingHistory(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	p := f.profile(t, f.conn.ID, "Viewers", false, 0, 0)
	f.session(t, "s1", f.conn.ID)
	l, key := f.link(t, "s1", p.ID)
	if err := f.s.DeleteUser(ctx, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, f.s, `SELECT COUNT(*) FROM live_sessions WHERE id = 's1' AND owner_id IS NULL`); n != 1 {
		t.Errorf("session row after owner delete: %d rows with no owner, want 1", n)
	}
	got, _, err := f.s.ShareLinkByKey(ctx, key)
	if err != nil || got.ID != l.ID || got.CreatedBy != 0 {
		t.Errorf("ShareLinkByKey after creator delete = %+v, %v; want link %d with CreatedBy 0", got, err, l.ID)
	}
}
