package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// join records a participant of session and fails the test on error.
func (f *sharingFixture) join(t *testing.T, p ParticipantRecord) ParticipantRecord {
	t.Helper()
	id, err := f.s.RecordJoin(t.Context(), p)
	if err != nil {
		t.Fatalf("RecordJoin(%+v): %v", p, err)
	}
	p.ID = id
	if p.JoinedAt.IsZero() {
		p.JoinedAt = f.clock.Now()
	}
	return p
}

func TestRecordJoinAndLeave(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	prof := f.profile(t, f.conn.ID, "Viewers", true, 0, 0)
	f.session(t, "s1", f.conn.ID)
	l, _ := f.link(t, "s1", prof.ID)
	owner := f.join(t, ParticipantRecord{SessionID: "s1", Peer: "p1", Name: "owner", UserID: f.user.ID,
		Role: "owner", Address: "127.0.0.1"})
	f.clock.Advance(time.Minute)
	guest := f.join(t, ParticipantRecord{SessionID: "s1", Peer: "p2", Name: "Anonymous", Role: "guest",
		ReadOnly: true, LinkID: l.ID, ProfileName: "Viewers", Address: "2001:db8::1"})
	f.clock.Advance(time.Minute)
	left := f.clock.Now()
	if err := f.s.RecordLeave(ctx, guest.ID, left); err != nil {
		t.Fatal(err)
	}
	if err := f.s.RecordLeave(ctx, guest.ID, left.Add(time.Hour)); err != nil {
		t.Errorf("second RecordLeave = %v, want nil", err)
	}
	guest.LeftAt = left
	if err := f.s.RecordLeave(ctx, 12345, left); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordLeave(unknown) = %v, want ErrNotFound", err)
	}

	// The link and the user going away leave the rows.
	if _, err := f.s.DeleteProfile(ctx, prof.ID); err != nil {
		t.Fatal(err)
	}
	sessions, total, err := f.s.History(ctx, HistoryQuery{})
	if err != nil || total != 1 || len(sessions) != 1 {
		t.Fatalf("History = %d sessions of %d, %v; want 1 of 1", len(sessions), total, err)
	}
	want := HistorySession{ID: "s1", ConnectionID: f.conn.ID, ConnectionName: "Demo desktop", OwnerName: "owner",
		StartedAt: owner.JoinedAt, Participants: []ParticipantRecord{owner, guest}}
	if !reflect.DeepEqual(sessions[0], want) {
		t.Fatalf("History session = %+v\nwant %+v", sessions[0], want)
	}

	if err := f.s.DeleteUser(ctx, f.user.ID); err != nil {
		t.Fatal(err)
	}
	sessions, _, err = f.s.History(ctx, HistoryQuery{})
	if err != nil || sessions[0].OwnerName != "" || sessions[0].Participants[0].UserID != 0 || sessions[0].Participants[0].Name != "owner" {
		t.Fatalf("History after the owner's deletion = %+v, %v; want no owner, the name kept", sessions, err)
	}

	// A leave is never before the join.
	early := f.join(t, ParticipantRecord{SessionID: "s1", Peer: "p3", Name: "Anonymous", Role: "guest"})
	if err := f.s.RecordLeave(ctx, early.ID, early.JoinedAt.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, f.s, `SELECT COUNT(*) FROM participants WHERE id = ? AND left_at = joined_at`, early.ID); n != 1 {
		t.Error("a leave before the join was not clamped to the join")
	}
}

func TestRecordJoinValidation(t *testing.T) {
	f := newSharingFixture(t)
	f.session(t, "s1", f.conn.ID)
	ok := ParticipantRecord{SessionID: "s1", Peer: "p1", Name: "Anonymous", Role: "guest", Address: "127.0.0.1"}
	for _, tc := range []struct {
		name  string
		edit  func(*ParticipantRecord)
		want  error
		field string
	}{
		{"bad session", func(p *ParticipantRecord) { p.SessionID = "a/b" }, ErrInvalid, "session"},
		{"empty peer", func(p *ParticipantRecord) { p.Peer = "" }, ErrInvalid, "peer"},
		{"long peer", func(p *ParticipantRecord) { p.Peer = strings.Repeat("p", 65) }, ErrInvalid, "peer"},
		{"empty name", func(p *ParticipantRecord) { p.Name = "" }, ErrInvalid, "name"},
		{"control in name", func(p *ParticipantRecord) { p.Name = "a\nb" }, ErrInvalid, "name"},
		{"role", func(p *ParticipantRecord) { p.Role = "admin" }, ErrInvalid, "role"},
		{"negative user", func(p *ParticipantRecord) { p.UserID = -1 }, ErrInvalid, "user"},
		{"negative link", func(p *ParticipantRecord) { p.LinkID = -1 }, ErrInvalid, "link"},
		{"long profile", func(p *ParticipantRecord) { p.ProfileName = strings.Repeat("x", 101) }, ErrInvalid, "profile"},
		{"long address", func(p *ParticipantRecord) { p.Address = strings.Repeat("1", 65) }, ErrInvalid, "address"},
		{"unknown session", func(p *ParticipantRecord) { p.SessionID = "nope" }, ErrNotFound, ""},
		{"unknown user", func(p *ParticipantRecord) { p.UserID = 12345 }, ErrNotFound, ""},
		{"deleted link", func(p *ParticipantRecord) { p.LinkID = 12345 }, nil, ""},
		{"no address", func(p *ParticipantRecord) { p.Address = "" }, nil, ""},
	} {
		p := ok
		tc.edit(&p)
		_, err := f.s.RecordJoin(t.Context(), p)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: RecordJoin = %v, want %v", tc.name, err, tc.want)
		}
		var fe *FieldError
		if tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field) {
			t.Errorf("%s: error %v does not name the field %q", tc.name, err, tc.field)
		}
	}
	if n := countRows(t, f.s, `SELECT COUNT(*) FROM participants`); n != 2 {
		t.Errorf("%d rows written, want the 2 valid ones", n)
	}
}

func TestHistoryPaging(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	const n = 7
	for i := range n {
		id := fmt.Sprintf("s%d", i)
		f.session(t, id, f.conn.ID)
		if i%2 == 0 { // every other session has a participant
			f.join(t, ParticipantRecord{SessionID: id, Peer: "p" + id, Name: "owner", UserID: f.user.ID, Role: "owner"})
		}
		if i < 3 { // the first three share their start second: the later one is newer
			continue
		}
		f.clock.Advance(time.Second)
	}
	var got []string
	for offset := 0; ; offset += 3 {
		page, total, err := f.s.History(ctx, HistoryQuery{Offset: offset, Limit: 3})
		if err != nil || total != n {
			t.Fatalf("History(offset %d) total %d, %v; want %d", offset, total, err, n)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("page of %d sessions, limit 3", len(page))
		}
		for _, h := range page {
			got = append(got, h.ID)
			if wantParts := map[bool]int{true: 1, false: 0}[h.ID[1]%2 == 0]; len(h.Participants) != wantParts {
				t.Errorf("session %s has %d participants, want %d", h.ID, len(h.Participants), wantParts)
			}
		}
	}
	want := []string{"s6", "s5", "s4", "s3", "s2", "s1", "s0"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("paged sessions %v, want newest first %v", got, want)
	}
	if page, total, err := f.s.History(ctx, HistoryQuery{}); err != nil || len(page) != n || total != n {
		t.Errorf("History(default limit) = %d of %d, %v", len(page), total, err)
	}
	for _, q := range []struct {
		q     HistoryQuery
		field string
	}{
		{HistoryQuery{Offset: -1}, "offset"},
		{HistoryQuery{Limit: -1}, "limit"},
		{HistoryQuery{Limit: MaxHistoryLimit + 1}, "limit"},
	} {
		var fe *FieldError
		if _, _, err := f.s.History(ctx, q.q); !errors.As(err, &fe) || fe.Field != q.field {
			t.Errorf("History(%+v) = %v, want ErrInvalid on %s", q.q, err, q.field)
		}
	}
	if page, _, err := f.s.History(ctx, HistoryQuery{Limit: MaxHistoryLimit}); err != nil || len(page) != n {
		t.Errorf("History(limit %d) = %d, %v", MaxHistoryLimit, len(page), err)
	}

	var all []string
	if err := f.s.EachHistorySession(ctx, func(h HistorySession) error {
		all = append(all, h.ID)
		return nil
	}); err != nil || !reflect.DeepEqual(all, want) {
		t.Errorf("EachHistorySession = %v, %v; want %v", all, err, want)
	}
	stop := errors.New("stop")
	calls := 0
	if err := f.s.EachHistorySession(ctx, func(HistorySession) error { calls++; return stop }); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachHistorySession with a failing fn = %v after %d calls, want stop after 1", err, calls)
	}
}

// TestHistorySurvivesAbruptStop: a join is on disk as soon as RecordJoin returns, seen by a
// second Store on the file while the first is still open; EndOpenParticipants closes it.
func TestHistorySurvivesAbruptStop(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	f.session(t, "s1", f.conn.ID)
	on := f.join(t, ParticipantRecord{SessionID: "s1", Peer: "p1", Name: "owner", UserID: f.user.ID, Role: "owner"})
	done := f.join(t, ParticipantRecord{SessionID: "s1", Peer: "p2", Name: "Anonymous", Role: "guest"})
	f.clock.Advance(time.Minute)
	if err := f.s.RecordLeave(ctx, done.ID, f.clock.Now()); err != nil {
		t.Fatal(err)
	}

	clock2 := newTestClock()
	clock2.Advance(time.Hour)
	s2, err := Open(ctx, f.path, WithClock(clock2.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	page, _, err := s2.History(ctx, HistoryQuery{})
	if err != nil || len(page) != 1 || len(page[0].Participants) != 2 || !page[0].Participants[0].LeftAt.IsZero() {
		t.Fatalf("second store's History = %+v, %v; want the open join", page, err)
	}
	if n, err := s2.EndOpenParticipants(ctx, clock2.Now()); err != nil || n != 1 {
		t.Fatalf("EndOpenParticipants = %d, %v; want 1", n, err)
	}
	if n, err := s2.EndOpenParticipants(ctx, clock2.Now()); err != nil || n != 0 {
		t.Fatalf("second EndOpenParticipants = %d, %v; want 0", n, err)
	}
	page, _, err = s2.History(ctx, HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if p := page[0].Participants; p[0].ID != on.ID || !p[0].LeftAt.Equal(clock2.Now()) || !p[1].LeftAt.Equal(done.JoinedAt.Add(time.Minute)) {
		t.Fatalf("participants after EndOpenParticipants = %+v", p)
	}
}

// TestHistoryOutlivesConnection: deleting a connection keeps its sessions and their
// participants in the history, under the connection's name; its share links go.
func TestHistoryOutlivesConnection(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	if err := f.s.StartLiveSession(ctx, "sess1", f.conn.ID, f.user.ID); err != nil {
		t.Fatal(err)
	}
	f.join(t, ParticipantRecord{SessionID: "sess1", Peer: "p1", Name: "owner", UserID: f.user.ID, Role: "owner", Address: "192.0.2.1"})
	if err := f.s.DeleteConnection(ctx, f.conn.ID); err != nil {
		t.Fatal(err)
	}
	page, total, err := f.s.History(ctx, HistoryQuery{})
	if err != nil || total != 1 || len(page) != 1 {
		t.Fatalf("history after deleting the connection: %d sessions (%v)", total, err)
	}
	h := page[0]
	if h.ConnectionName != "Demo desktop" || h.ConnectionID != 0 || len(h.Participants) != 1 || h.Participants[0].Name != "owner" {
		t.Fatalf("history %+v", h)
	}
	if err := f.s.StartLiveSession(ctx, "sess2", f.conn.ID, f.user.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a session of the deleted connection: %v, want ErrNotFound", err)
	}
}

// TestHistoryMigration: a database of the schema before migration 5 (sessions cascading with
// their connection) keeps its history through the migration, with every foreign key intact and
// foreign keys on again on every connection.
func TestHistoryMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite3", path+"?_foreign_keys=on&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrationFiles, "migrations")
	old := fstest.MapFS{}
	entries, _ := fs.ReadDir(sub, ".")
	for _, e := range entries {
		if m := migrationName.FindStringSubmatch(e.Name()); m != nil && m[1] < "0005" {
			b, _ := fs.ReadFile(sub, e.Name())
			old[e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	ctx := t.Context()
	if err := migrate(ctx, db, old, time.Unix(1000, 0), false); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO users (id, username, password_hash, admin, created_at) VALUES (1, 'alice', 'x', 0, 1)`,
		`INSERT INTO connections (id, name, agent_token_hash, created_at) VALUES (7, 'Office PC', x'01', 1)`,
		`INSERT INTO sharing_profiles (id, connection_id, name, created_at) VALUES (3, 7, 'Watch', 1)`,
		`INSERT INTO live_sessions (id, connection_id, owner_id, started_at) VALUES ('s1', 7, 1, 10)`,
		`INSERT INTO share_links (id, key_hash, profile_id, session_id, created_at) VALUES (4, x'02', 3, 's1', 11)`,
		`INSERT INTO participants (session_id, peer, name, user_id, role, address, joined_at) VALUES ('s1', 'p1', 'alice', 1, 'owner', '192.0.2.1', 12)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	defer s.Close()
	var links, participants int
	_ = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM share_links`).Scan(&links)
	_ = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM participants`).Scan(&participants)
	if links != 1 || participants != 1 {
		t.Fatalf("after the migration: %d share links, %d participants; want 1 and 1", links, participants)
	}
	for range 4 { // several of the pool's connections
		var on int
		if err := s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&on); err != nil || on != 1 {
			t.Fatalf("foreign_keys = %d (%v) after the migration", on, err)
		}
	}
	if err := s.DeleteConnection(ctx, 7); err != nil {
		t.Fatal(err)
	}
	page, _, err := s.History(ctx, HistoryQuery{})
	if err != nil || len(page) != 1 || page[0].ConnectionName != "Office PC" || len(page[0].Participants) != 1 {
		t.Fatalf("history of the deleted connection after the migration: %+v (%v)", page, err)
	}
	_ = s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM share_links`).Scan(&links)
	if links != 0 {
		t.Fatalf("%d share links of the deleted connection's profiles left", links)
	}
}
