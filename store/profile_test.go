package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// sharingFixture is a store with a settable clock, one user and one connection, the parents of
// every sharing row.
type sharingFixture struct {
	s     *Store
	path  string
	clock *testClock
	user  User
	conn  Connection
}

func newSharingFixture(t *testing.T) *sharingFixture {
	t.Helper()
	return sharingFixtureAt(t, testDatabase(t))
}

// sharingFixtureAt is newSharingFixture on the database at path.
func sharingFixtureAt(t *testing.T, path string) *sharingFixture {
	t.Helper()
	clock := newTestClock()
	s, path := openAt(t, path, WithClock(clock.Now))
	u, err := s.CreateUser(t.Context(), "owner", "password1", false)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateConnection(t.Context(), "Demo desktop")
	if err != nil {
		t.Fatal(err)
	}
	return &sharingFixture{s: s, path: path, clock: clock, user: u, conn: c}
}

// profile creates a profile named name on connection conn with the given options.
func (f *sharingFixture) profile(t *testing.T, conn ConnectionID, name string, readOnly bool, lifetime time.Duration, maxGuests int) SharingProfile {
	t.Helper()
	p, err := f.s.CreateProfile(t.Context(), SharingProfile{
		ConnectionID: conn, Name: name, ReadOnly: readOnly, LinkLifetime: lifetime, MaxGuests: maxGuests,
	})
	if err != nil {
		t.Fatalf("CreateProfile(%q): %v", name, err)
	}
	return p
}

// session starts live session id of connection conn, owned by the fixture's user.
func (f *sharingFixture) session(t *testing.T, id string, conn ConnectionID) {
	t.Helper()
	if err := f.s.StartLiveSession(t.Context(), id, conn, f.user.ID); err != nil {
		t.Fatalf("StartLiveSession(%s): %v", id, err)
	}
}

// link makes a share link to session under profile p, by the fixture's user.
func (f *sharingFixture) link(t *testing.T, session string, p ProfileID) (ShareLink, string) {
	t.Helper()
	l, key, err := f.s.CreateShareLink(t.Context(), session, p, f.user.ID)
	if err != nil {
		t.Fatalf("CreateShareLink(%s, %d): %v", session, p, err)
	}
	return l, key
}

func TestProfileCRUD(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	created := f.clock.Now()
	p, err := f.s.CreateProfile(ctx, SharingProfile{
		ID: 99, ConnectionID: f.conn.ID, Name: "Viewers", ReadOnly: true,
		LinkLifetime: time.Hour, MaxGuests: 5, CreatedAt: time.Unix(1, 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	want := SharingProfile{ID: p.ID, ConnectionID: f.conn.ID, Name: "Viewers", ReadOnly: true,
		LinkLifetime: time.Hour, MaxGuests: 5, CreatedAt: created}
	if p != want || p.ID == 99 || p.ID == 0 {
		t.Fatalf("CreateProfile = %+v, want %+v with a fresh id", p, want)
	}
	if got, err := f.s.Profile(ctx, p.ID); err != nil || got != p {
		t.Errorf("Profile = %+v, %v; want %+v", got, err, p)
	}

	f.clock.Advance(time.Minute)
	other, _, err := f.s.CreateConnection(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	upd := SharingProfile{ID: p.ID, ConnectionID: other.ID, Name: "Helpers", LinkLifetime: 0, MaxGuests: 0}
	got, err := f.s.UpdateProfile(ctx, upd)
	if err != nil {
		t.Fatal(err)
	}
	want = SharingProfile{ID: p.ID, ConnectionID: f.conn.ID, Name: "Helpers", CreatedAt: created}
	if got != want {
		t.Errorf("UpdateProfile = %+v, want %+v (connection and creation time kept)", got, want)
	}
	if got, err := f.s.Profile(ctx, p.ID); err != nil || got != want {
		t.Errorf("Profile after update = %+v, %v; want %+v", got, err, want)
	}
	if _, err := f.s.UpdateProfile(ctx, SharingProfile{ID: 12345, Name: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateProfile(unknown) = %v, want ErrNotFound", err)
	}
	if _, err := f.s.CreateProfile(ctx, SharingProfile{ConnectionID: 12345, Name: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("CreateProfile(unknown connection) = %v, want ErrNotFound", err)
	}

	f.profile(t, f.conn.ID, "beta", false, 0, 0)
	f.profile(t, f.conn.ID, "Alpha", false, 0, 0)
	f.profile(t, other.ID, "Aardvark", false, 0, 0)
	ps, err := f.s.Profiles(ctx, f.conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	if got := strings.Join(names, ","); got != "Alpha,beta,Helpers" {
		t.Errorf("Profiles = %s, want Alpha,beta,Helpers (by name, case-insensitive, this connection only)", got)
	}
	if ps, err := f.s.Profiles(ctx, 12345); err != nil || len(ps) != 0 {
		t.Errorf("Profiles(unknown connection) = %v, %v; want none", ps, err)
	}

	if ids, err := f.s.DeleteProfile(ctx, p.ID); err != nil || len(ids) != 0 {
		t.Fatalf("DeleteProfile = %v, %v; want no links, nil", ids, err)
	}
	if _, err := f.s.Profile(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Profile after delete = %v, want ErrNotFound", err)
	}
	if _, err := f.s.DeleteProfile(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteProfile = %v, want ErrNotFound", err)
	}
}

func TestProfileValidation(t *testing.T) {
	f := newSharingFixture(t)
	existing := f.profile(t, f.conn.ID, "Existing", false, 0, 0)
	for _, tc := range []struct {
		name      string
		mod       func(*SharingProfile)
		wantField string // "" for valid
	}{
		{"defaults", func(*SharingProfile) {}, ""},
		{"unicode name", func(p *SharingProfile) { p.Name = "Gäste – nur Lesen" }, ""},
		{"100 char name", func(p *SharingProfile) { p.Name = strings.Repeat("é", 100) }, ""},
		{"empty name", func(p *SharingProfile) { p.Name = "" }, "name"},
		{"101 char name", func(p *SharingProfile) { p.Name = strings.Repeat("n", 101) }, "name"},
		{"leading space", func(p *SharingProfile) { p.Name = " n" }, "name"},
		{"newline", func(p *SharingProfile) { p.Name = "a\nb" }, "name"},
		{"NUL", func(p *SharingProfile) { p.Name = "a\x00b" }, "name"},
		{"bidi override", func(p *SharingProfile) { p.Name = "a\u202eb" }, "name"},
		{"invalid UTF-8", func(p *SharingProfile) { p.Name = "a\xffb" }, "name"},
		{"lifetime 1 min", func(p *SharingProfile) { p.LinkLifetime = time.Minute }, ""},
		{"lifetime 30 days", func(p *SharingProfile) { p.LinkLifetime = 30 * 24 * time.Hour }, ""},
		{"lifetime negative", func(p *SharingProfile) { p.LinkLifetime = -time.Hour }, "linkLifetime"},
		{"lifetime 59 s", func(p *SharingProfile) { p.LinkLifetime = 59 * time.Second }, "linkLifetime"},
		{"lifetime 30 days + 1 s", func(p *SharingProfile) { p.LinkLifetime = 30*24*time.Hour + time.Second }, "linkLifetime"},
		{"lifetime fractional", func(p *SharingProfile) { p.LinkLifetime = time.Hour + time.Millisecond }, "linkLifetime"},
		{"max guests 1", func(p *SharingProfile) { p.MaxGuests = 1 }, ""},
		{"max guests 1000", func(p *SharingProfile) { p.MaxGuests = 1000 }, ""},
		{"max guests negative", func(p *SharingProfile) { p.MaxGuests = -1 }, "maxGuests"},
		{"max guests 1001", func(p *SharingProfile) { p.MaxGuests = 1001 }, "maxGuests"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			p := SharingProfile{ConnectionID: f.conn.ID, Name: "P " + tc.name}
			tc.mod(&p)
			check := func(op string, got SharingProfile, err error) {
				t.Helper()
				if tc.wantField == "" {
					if err != nil {
						t.Fatalf("%s = %v, want success", op, err)
					}
					if got.Name != p.Name || got.LinkLifetime != p.LinkLifetime || got.MaxGuests != p.MaxGuests {
						t.Errorf("%s = %+v, want fields of %+v", op, got, p)
					}
					return
				}
				var fe *FieldError
				if !errors.Is(err, ErrInvalid) || !errors.As(err, &fe) || fe.Field != tc.wantField {
					t.Fatalf("%s = %v, want a FieldError for %q", op, err, tc.wantField)
				}
				if !strings.Contains(err.Error(), tc.wantField+": ") {
					t.Errorf("%s error %q does not name the field", op, err)
				}
			}
			created, err := f.s.CreateProfile(ctx, p)
			check("CreateProfile", created, err)
			if err == nil {
				// Free the name so UpdateProfile below can take it.
				if _, err := f.s.DeleteProfile(ctx, created.ID); err != nil {
					t.Fatal(err)
				}
			}
			p.ID = existing.ID
			updated, err := f.s.UpdateProfile(ctx, p)
			check("UpdateProfile", updated, err)
		})
	}
	if got, err := f.s.Profiles(t.Context(), f.conn.ID); err != nil || len(got) != 1 || got[0].ID != existing.ID {
		t.Errorf("Profiles after validation = %+v, %v; want only the updated existing profile", got, err)
	}
}

func TestProfileNameConflicts(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	other, _, err := f.s.CreateConnection(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	viewers := f.profile(t, f.conn.ID, "Viewers", false, 0, 0)
	helpers := f.profile(t, f.conn.ID, "Helpers", false, 0, 0)
	for _, name := range []string{"Viewers", "viewers", "VIEWERS"} {
		if _, err := f.s.CreateProfile(ctx, SharingProfile{ConnectionID: f.conn.ID, Name: name}); !errors.Is(err, ErrExists) {
			t.Errorf("CreateProfile(%q) on the same connection = %v, want ErrExists", name, err)
		}
	}
	if _, err := f.s.CreateProfile(ctx, SharingProfile{ConnectionID: other.ID, Name: "viewers"}); err != nil {
		t.Errorf("CreateProfile(viewers) on another connection = %v, want success", err)
	}
	if _, err := f.s.UpdateProfile(ctx, SharingProfile{ID: helpers.ID, Name: "VIEWERS"}); !errors.Is(err, ErrExists) {
		t.Errorf("UpdateProfile to a taken name = %v, want ErrExists", err)
	}
	if got, err := f.s.UpdateProfile(ctx, SharingProfile{ID: viewers.ID, Name: "VIEWERS"}); err != nil || got.Name != "VIEWERS" {
		t.Errorf("UpdateProfile to its own name in other case = %+v, %v; want renamed", got, err)
	}
}

func TestCloneProfile(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	src := f.profile(t, f.conn.ID, "Viewers", true, 8*time.Hour, 3)
	f.clock.Advance(time.Minute)
	c, err := f.s.CloneProfile(ctx, src.ID, "Viewers (copy)")
	if err != nil {
		t.Fatal(err)
	}
	want := SharingProfile{ID: c.ID, ConnectionID: f.conn.ID, Name: "Viewers (copy)", ReadOnly: true,
		LinkLifetime: 8 * time.Hour, MaxGuests: 3, CreatedAt: f.clock.Now()}
	if c != want || c.ID == src.ID {
		t.Errorf("CloneProfile = %+v, want %+v with a new id", c, want)
	}
	if got, err := f.s.Profile(ctx, c.ID); err != nil || got != c {
		t.Errorf("Profile(clone) = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name    string
		id      ProfileID
		newName string
		want    error
	}{
		{"taken name", src.ID, "viewers (COPY)", ErrExists},
		{"source name", src.ID, "Viewers", ErrExists},
		{"empty name", src.ID, "", ErrInvalid},
		{"unknown source", 12345, "Fresh", ErrNotFound},
	} {
		if _, err := f.s.CloneProfile(ctx, tc.id, tc.newName); !errors.Is(err, tc.want) {
			t.Errorf("%s: CloneProfile = %v, want %v", tc.name, err, tc.want)
		}
	}
	if ps, err := f.s.Profiles(ctx, f.conn.ID); err != nil || len(ps) != 2 {
		t.Errorf("Profiles = %d, %v; want the source and one clone", len(ps), err)
	}
}

func TestDeleteProfileReturnsLinksAndCascades(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	gone := f.profile(t, f.conn.ID, "Gone", false, 0, 0)
	kept := f.profile(t, f.conn.ID, "Kept", false, 0, 0)
	f.session(t, "s1", f.conn.ID)
	f.session(t, "s2", f.conn.ID)
	l1, key1 := f.link(t, "s1", gone.ID)
	l2, _ := f.link(t, "s2", gone.ID)
	l3, key3 := f.link(t, "s1", kept.ID)

	ids, err := f.s.DeleteProfile(ctx, gone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != l1.ID || ids[1] != l2.ID {
		t.Errorf("DeleteProfile = %v, want [%d %d]", ids, l1.ID, l2.ID)
	}
	for _, id := range ids {
		if _, err := f.s.ShareLink(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("ShareLink(%d) after profile delete = %v, want ErrNotFound", id, err)
		}
	}
	if _, _, err := f.s.ShareLinkByKey(ctx, key1); !errors.Is(err, ErrNotFound) {
		t.Errorf("ShareLinkByKey of a deleted profile's link = %v, want ErrNotFound", err)
	}
	if l, _, err := f.s.ShareLinkByKey(ctx, key3); err != nil || l != l3 {
		t.Errorf("ShareLinkByKey of the other profile's link = %+v, %v; want %+v", l, err, l3)
	}
	if ls, err := f.s.ShareLinks(ctx, "s1"); err != nil || len(ls) != 1 || ls[0] != l3 {
		t.Errorf("ShareLinks(s1) = %+v, %v; want only %+v", ls, err, l3)
	}
}

func TestDeleteConnectionCascadesSharing(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	other, _, err := f.s.CreateConnection(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	p := f.profile(t, f.conn.ID, "Viewers", true, 0, 0)
	op := f.profile(t, other.ID, "Viewers", true, 0, 0)
	f.session(t, "doomed", f.conn.ID)
	f.session(t, "kept", other.ID)
	l, key := f.link(t, "doomed", p.ID)
	ol, okey := f.link(t, "kept", op.ID)

	if err := f.s.DeleteConnection(ctx, f.conn.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Profile(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Profile after connection delete = %v, want ErrNotFound", err)
	}
	if _, err := f.s.ShareLink(ctx, l.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("ShareLink after connection delete = %v, want ErrNotFound", err)
	}
	if _, _, err := f.s.ShareLinkByKey(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("ShareLinkByKey after connection delete = %v, want ErrNotFound", err)
	}
	if n := countRows(t, f.s, `SELECT COUNT(*) FROM live_sessions WHERE connection_id = ?`, f.conn.ID); n != 0 {
		t.Errorf("%d live-session rows of the deleted connection left", n)
	}
	// A session deleted with its connection may still be ended by the server: no error.
	if err := f.s.EndLiveSession(ctx, "doomed", "connection deleted"); err != nil {
		t.Errorf("EndLiveSession of a deleted session = %v, want nil", err)
	}
	if got, gp, err := f.s.ShareLinkByKey(ctx, okey); err != nil || got != ol || gp != op {
		t.Errorf("other connection's link = %+v, %+v, %v; want it untouched", got, gp, err)
	}
}

// countRows runs a COUNT query.
func countRows(t *testing.T, s *Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(t.Context(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
