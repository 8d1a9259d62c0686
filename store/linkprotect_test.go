package store

import (
	"errors"
	"regexp"
	"testing"
)

// TestLinkPasscodeAndSingleUse: a passcode profile's links get a six-digit passcode, returned
// once and kept only as a salted hash, which PasscodeMatches checks; a single-use link is
// claimed by exactly one join and then opens nothing. Cloning keeps both options.
func TestLinkPasscodeAndSingleUse(t *testing.T) {
	f := newSharingFixture(t)
	ctx := t.Context()
	p, err := f.s.CreateProfile(ctx, SharingProfile{ConnectionID: f.conn.ID, Name: "Locked", Passcode: true, SingleUse: true})
	if err != nil || !p.Passcode || !p.SingleUse {
		t.Fatalf("profile %+v, %v", p, err)
	}
	if c, err := f.s.CloneProfile(ctx, p.ID, "Locked too"); err != nil || !c.Passcode || !c.SingleUse {
		t.Fatalf("clone %+v, %v", c, err)
	}
	plain := f.profile(t, f.conn.ID, "Plain", false, 0, 0)
	f.session(t, "s1", f.conn.ID)
	l, key, err := f.s.CreateShareLink(ctx, "s1", p.ID, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(l.Passcode) || !l.Protected || !l.SingleUse {
		t.Fatalf("link %+v", l)
	}
	got, _, err := f.s.ShareLinkByKey(ctx, key)
	if err != nil || got.Passcode != "" || !got.Protected {
		t.Fatalf("looked up: %+v, %v", got, err)
	}
	if !got.PasscodeMatches(key, l.Passcode) || got.PasscodeMatches(key, "000000") && l.Passcode != "000000" || got.PasscodeMatches(key, "") {
		t.Error("PasscodeMatches")
	}
	_, key2, err := f.s.CreateShareLink(ctx, "s1", p.ID, f.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.PasscodeMatches(key2, l.Passcode) {
		t.Error("a passcode checked against another link's key matches") // the hash is salted by the key
	}

	if err := f.s.ClaimShareLink(ctx, l.ID); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	if err := f.s.ClaimShareLink(ctx, l.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second claim: %v", err)
	}
	if _, _, err := f.s.ShareLinkByKey(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a used single-use link still opens: %v", err)
	}
	if u, err := f.s.ShareLink(ctx, l.ID); err != nil || u.UsedAt.IsZero() {
		t.Fatalf("used link %+v, %v", u, err)
	}
	pl, plainKey, err := f.s.CreateShareLink(ctx, "s1", plain.ID, f.user.ID)
	if err != nil || pl.Passcode != "" || pl.Protected || pl.SingleUse {
		t.Fatalf("plain link %+v, %v", pl, err)
	}
	if err := f.s.ClaimShareLink(ctx, pl.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("claiming a link that is not single use: %v", err)
	}
	if _, _, err := f.s.ShareLinkByKey(ctx, plainKey); err != nil {
		t.Fatalf("the plain link after a claim: %v", err)
	}
}
