package store

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCreateShareLink(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	other, _, err := f.s.CreateConnection(ctx, "Other")
	if err != nil {
		t.Fatal(err)
	}
	forever := f.profile(t, f.conn.ID, "Forever", false, 0, 0)
	hour := f.profile(t, f.conn.ID, "Hour", true, time.Hour, 2)
	foreign := f.profile(t, other.ID, "Foreign", false, 0, 0)
	f.session(t, "s1", f.conn.ID)
	f.session(t, "over", f.conn.ID)
	if err := f.s.EndLiveSession(ctx, "over", "owner left"); err != nil {
		t.Fatal(err)
	}

	now := f.clock.Now()
	l, key, err := f.s.CreateShareLink(ctx, "s1", forever.ID, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(key); len(key) != 43 || err != nil || len(raw) != 32 {
		t.Errorf("key %q: want 43 characters of base64url for 32 bytes (%v)", key, err)
	}
	want := ShareLink{ID: l.ID, ProfileID: forever.ID, SessionID: "s1", CreatedBy: f.user.ID, CreatedAt: now}
	if l != want || l.ID == 0 {
		t.Errorf("CreateShareLink = %+v, want %+v", l, want)
	}
	if got, p, err := f.s.ShareLinkByKey(ctx, key); err != nil || got != l || p != forever {
		t.Errorf("ShareLinkByKey = %+v, %+v, %v; want %+v, %+v", got, p, err, l, forever)
	}

	f.clock.Advance(time.Second)
	lh, keyH, err := f.s.CreateShareLink(ctx, "s1", hour.ID, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if wantExp := f.clock.Now().Add(time.Hour); !lh.ExpiresAt.Equal(wantExp) {
		t.Errorf("ExpiresAt = %v, want %v", lh.ExpiresAt, wantExp)
	}
	if keyH == key {
		t.Error("two links got the same key")
	}
	if got, p, err := f.s.ShareLinkByKey(ctx, keyH); err != nil || got != lh || p != hour || !p.ReadOnly || p.MaxGuests != 2 {
		t.Errorf("ShareLinkByKey(hour link) = %+v, %+v, %v", got, p, err)
	}
	if got, err := f.s.ShareLink(ctx, lh.ID); err != nil || got != lh {
		t.Errorf("ShareLink = %+v, %v; want %+v", got, err, lh)
	}
	if ls, err := f.s.ShareLinks(ctx, "s1"); err != nil || len(ls) != 2 || ls[0] != l || ls[1] != lh {
		t.Errorf("ShareLinks = %+v, %v; want [%+v %+v]", ls, err, l, lh)
	}
	if ls, err := f.s.ShareLinks(ctx, "nope"); err != nil || len(ls) != 0 {
		t.Errorf("ShareLinks(unknown) = %+v, %v; want none", ls, err)
	}

	for _, tc := range []struct {
		name    string
		session string
		profile ProfileID
		by      UserID
		want    error
	}{
		{"ended session", "over", forever.ID, f.user.ID, ErrNotFound},
		{"unknown session", "nope", forever.ID, f.user.ID, ErrNotFound},
		{"unknown profile", "s1", 12345, f.user.ID, ErrNotFound},
		{"unknown user", "s1", forever.ID, 12345, ErrNotFound},
		{"profile of another connection", "s1", foreign.ID, f.user.ID, ErrInvalid},
	} {
		l, key, err := f.s.CreateShareLink(ctx, tc.session, tc.profile, tc.by)
		if !errors.Is(err, tc.want) || key != "" || l != (ShareLink{}) {
			t.Errorf("%s: CreateShareLink = %+v, %q, %v; want %v", tc.name, l, key, err, tc.want)
		}
	}
	if n := countRows(t, f.s, `SELECT COUNT(*) FROM share_links`); n != 2 {
		t.Errorf("%d share_links rows, want 2 (failures leave none)", n)
	}

	// The profile is read at lookup: an edit applies to links already made.
	if _, err := f.s.UpdateProfile(ctx, SharingProfile{ID: forever.ID, Name: "Forever", ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if _, p, err := f.s.ShareLinkByKey(ctx, key); err != nil || !p.ReadOnly {
		t.Errorf("ShareLinkByKey after making the profile read-only = %+v, %v", p, err)
	}
}

func TestShareLinkByKeyInvalid(t *testing.T) {
	const lifetime = 15 * time.Minute
	for _, tc := range []struct {
		name string
		// spoil turns a fresh link (key, made at clock time 0 with lifetime) into the case.
		spoil  func(t *testing.T, f *sharingFixture, l ShareLink, key string) string
		wantOK bool
	}{
		{"valid", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string { return key }, true},
		{"one second before expiry", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			f.clock.Advance(lifetime - time.Second)
			return key
		}, true},
		{"exactly at expiry", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			f.clock.Advance(lifetime)
			return key
		}, false},
		{"long expired", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			f.clock.Advance(30 * 24 * time.Hour)
			return key
		}, false},
		{"unknown", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			other, _, err := newToken()
			if err != nil {
				t.Fatal(err)
			}
			return other
		}, false},
		{"malformed: short", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string { return key[:42] }, false},
		{"malformed: long", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string { return key + "A" }, false},
		{"malformed: bad alphabet", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string { return "+" + key[1:] }, false},
		{"malformed: empty", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string { return "" }, false},
		{"malformed: huge", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			return strings.Repeat(key, 1000)
		}, false},
		{"revoked", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			if _, err := f.s.RevokeShareLink(t.Context(), l.ID); err != nil {
				t.Fatal(err)
			}
			return key
		}, false},
		{"session ended", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			if err := f.s.EndLiveSession(t.Context(), l.SessionID, "owner left"); err != nil {
				t.Fatal(err)
			}
			return key
		}, false},
		{"sessions ended at restart", func(t *testing.T, f *sharingFixture, l ShareLink, key string) string {
			if _, err := f.s.EndAllLiveSessions(t.Context(), "server restarted"); err != nil {
				t.Fatal(err)
			}
			return key
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSharingFixture(t)
			p := f.profile(t, f.conn.ID, "Quarter", false, lifetime, 0)
			f.session(t, "s1", f.conn.ID)
			l, key := f.link(t, "s1", p.ID)
			try := tc.spoil(t, f, l, key)
			got, gp, err := f.s.ShareLinkByKey(t.Context(), try)
			if tc.wantOK {
				if err != nil || got != l || gp != p {
					t.Errorf("ShareLinkByKey = %+v, %+v, %v; want %+v, %+v", got, gp, err, l, p)
				}
				return
			}
			if !errors.Is(err, ErrNotFound) || got != (ShareLink{}) || gp != (SharingProfile{}) {
				t.Errorf("ShareLinkByKey = %+v, %+v, %v; want ErrNotFound and zero values", got, gp, err)
			}
			if err != nil && err.Error() != "share link: "+ErrNotFound.Error() {
				t.Errorf("error %q differs between invalid cases", err)
			}
		})
	}
}

func TestRevokeShareLinkIdempotent(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	p := f.profile(t, f.conn.ID, "Viewers", false, 0, 0)
	f.session(t, "s1", f.conn.ID)
	l, key := f.link(t, "s1", p.ID)
	other, otherKey := f.link(t, "s1", p.ID)

	f.clock.Advance(time.Minute)
	revokedAt := f.clock.Now()
	r, err := f.s.RevokeShareLink(ctx, l.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := l
	want.RevokedAt = revokedAt
	if r != want {
		t.Errorf("RevokeShareLink = %+v, want %+v", r, want)
	}
	f.clock.Advance(time.Minute)
	if r2, err := f.s.RevokeShareLink(ctx, l.ID); err != nil || r2 != want {
		t.Errorf("second RevokeShareLink = %+v, %v; want %+v (first RevokedAt kept)", r2, err, want)
	}
	if got, err := f.s.ShareLink(ctx, l.ID); err != nil || got != want {
		t.Errorf("ShareLink(revoked) = %+v, %v; want %+v", got, err, want)
	}
	if _, _, err := f.s.ShareLinkByKey(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("ShareLinkByKey(revoked) = %v, want ErrNotFound", err)
	}
	if got, _, err := f.s.ShareLinkByKey(ctx, otherKey); err != nil || got != other {
		t.Errorf("other link after revoke = %+v, %v; want it working", got, err)
	}
	if _, err := f.s.RevokeShareLink(ctx, 12345); !errors.Is(err, ErrNotFound) {
		t.Errorf("RevokeShareLink(unknown) = %v, want ErrNotFound", err)
	}
}

// TestShareKeyNotStoredInPlain scans the database file and its WAL for a share key's text.
func TestShareKeyNotStoredInPlain(t *testing.T) {
	f := sharingFixtureAt(t, sqlitePath(t))
	p := f.profile(t, f.conn.ID, "Findable-Profile-Name", false, 0, 0)
	f.session(t, "s1", f.conn.ID)
	l, key := f.link(t, "s1", p.ID)

	files := databaseFiles(t, f.path)
	if !strings.Contains(string(files), "Findable-Profile-Name") {
		t.Fatal("profile name not found in database files; the scan is not looking at the data")
	}
	if strings.Contains(string(files), key) {
		t.Error("share key found in plain in the database files")
	}
	var hash []byte
	if err := f.s.db.QueryRowContext(t.Context(), `SELECT key_hash FROM share_links WHERE id = ?`, l.ID).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if string(hash) != string(hashToken(key)) {
		t.Error("share_links does not hold the key's SHA-256")
	}
}

// TestReopenKeepsSharing closes and reopens the file: migration 2 is recorded once and not
// re-run, and profiles, sessions and links survive.
func TestReopenKeepsSharing(t *testing.T) {
	clock := newTestClock()
	path := testDatabase(t)
	ctx := t.Context()
	s, err := Open(ctx, path, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	f := &sharingFixture{s: s, path: path, clock: clock}
	if f.user, err = s.CreateUser(ctx, "owner", "password1", false); err != nil {
		t.Fatal(err)
	}
	if f.conn, _, err = s.CreateConnection(ctx, "Demo desktop"); err != nil {
		t.Fatal(err)
	}
	p := f.profile(t, f.conn.ID, "Viewers", true, time.Hour, 4)
	f.session(t, "s1", f.conn.ID)
	l, key := f.link(t, "s1", p.ID)
	if before := appliedMigrations(t, s); before[2] == 0 {
		t.Fatalf("migration 2 not recorded: %v", before)
	}
	s = reopen(t, s, path, clock, time.Minute)
	if got, gp, err := s.ShareLinkByKey(ctx, key); err != nil || got != l || gp != p {
		t.Errorf("ShareLinkByKey after reopen = %+v, %+v, %v; want %+v, %+v", got, gp, err, l, p)
	}
	if ps, err := s.Profiles(ctx, f.conn.ID); err != nil || len(ps) != 1 || ps[0] != p {
		t.Errorf("Profiles after reopen = %+v, %v", ps, err)
	}
}
