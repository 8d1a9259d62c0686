package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUserValidation(t *testing.T) {
	s, _ := openTest(t)
	for _, tc := range []struct {
		name, username, password string
		wantErr                  error
	}{
		{"ok", "alice", "password", nil},
		{"all allowed characters", "A.b_c-9", "password", nil},
		{"64-char username", strings.Repeat("u", 64), "password", nil},
		{"1024-byte password", "long.pw", strings.Repeat("p", 1024), nil},
		{"empty username", "", "password", ErrInvalid},
		{"65-char username", strings.Repeat("u", 65), "password", ErrInvalid},
		{"space in username", "al ice", "password", ErrInvalid},
		{"slash in username", "al/ice", "password", ErrInvalid},
		{"non-ASCII username", "alïce", "password", ErrInvalid},
		{"NUL in username", "al\x00ice", "password", ErrInvalid},
		{"7-byte password", "dave", "passwor", ErrInvalid},
		{"1025-byte password", "erin", strings.Repeat("p", 1025), ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.CreateUser(t.Context(), tc.username, tc.password, false)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CreateUser = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (u.Username != tc.username || u.ID == 0) {
				t.Errorf("CreateUser = %+v", u)
			}
			if err != nil && !strings.Contains(err.Error(), "username") && !strings.Contains(err.Error(), "password") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}

func TestCreateAndAuthenticate(t *testing.T) {
	clock := newTestClock()
	s, _ := openTest(t, WithClock(clock.Now))
	ctx := t.Context()
	alice, err := s.CreateUser(ctx, "Alice", "alice-password", true)
	if err != nil {
		t.Fatal(err)
	}
	if !alice.Admin || alice.Username != "Alice" || !alice.CreatedAt.Equal(clock.Now()) || alice.CreatedAt.Location() != time.UTC {
		t.Errorf("CreateUser = %+v", alice)
	}
	for _, tc := range []struct {
		name, username, password string
		wantErr                  error
	}{
		{"right password", "Alice", "alice-password", nil},
		{"username in other case", "alice", "alice-password", nil},
		{"wrong password", "Alice", "alice-passwore", ErrBadCredentials},
		{"unknown user", "mallory", "alice-password", ErrBadCredentials},
		{"malformed username", "a b", "alice-password", ErrBadCredentials},
		{"empty password", "Alice", "", ErrBadCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tc.username, tc.password)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Authenticate = %v, want %v", err, tc.wantErr)
			}
			if err == nil && u != alice {
				t.Errorf("Authenticate = %+v, want %+v", u, alice)
			}
		})
	}
}

func TestDuplicateUser(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	if _, err := s.CreateUser(ctx, "alice", "password", false); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "ALICE"} {
		if _, err := s.CreateUser(ctx, name, "password", false); !errors.Is(err, ErrExists) {
			t.Errorf("CreateUser(%q) again = %v, want ErrExists", name, err)
		}
	}
	if n, err := s.UserCount(ctx); err != nil || n != 1 {
		t.Errorf("UserCount = %d, %v; want 1", n, err)
	}
}

func TestSetPassword(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, "bob", "old-password", false)
	if err != nil {
		t.Fatal(err)
	}
	token, err := s.CreateLoginSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, u.ID, "short"); !errors.Is(err, ErrInvalid) {
		t.Errorf("SetPassword(short) = %v, want ErrInvalid", err)
	}
	if err := s.SetPassword(ctx, u.ID+100, "new-password"); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetPassword(unknown user) = %v, want ErrNotFound", err)
	}
	if err := s.SetPassword(ctx, u.ID, "new-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "bob", "old-password"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password: %v, want ErrBadCredentials", err)
	}
	if _, err := s.Authenticate(ctx, "bob", "new-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	if _, err := s.UserBySessionToken(ctx, token); !errors.Is(err, ErrNotFound) {
		t.Errorf("login session after password change: %v, want ErrNotFound", err)
	}
}

func TestUserLookupListDelete(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	if n, err := s.UserCount(ctx); err != nil || n != 0 {
		t.Fatalf("UserCount on empty store = %d, %v", n, err)
	}
	var created []User
	for _, name := range []string{"carol", "alice", "Bob"} {
		u, err := s.CreateUser(ctx, name, "password", name == "alice")
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, u)
	}
	carol, alice, bob := created[0], created[1], created[2]

	us, err := s.Users(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(us) != 3 || us[0] != alice || us[1] != bob || us[2] != carol {
		t.Errorf("Users = %+v, want alice, Bob, carol", us)
	}
	if u, err := s.UserByName(ctx, "bob"); err != nil || u != bob {
		t.Errorf("UserByName(bob) = %+v, %v", u, err)
	}
	if u, err := s.User(ctx, carol.ID); err != nil || u != carol {
		t.Errorf("User(carol) = %+v, %v", u, err)
	}
	for _, name := range []string{"nobody", "", strings.Repeat("x", 1000)} {
		if _, err := s.UserByName(ctx, name); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserByName(%q) = %v, want ErrNotFound", name, err)
		}
	}

	if err := s.DeleteUser(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, bob.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
	}
	if _, err := s.User(ctx, bob.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("User(deleted) = %v, want ErrNotFound", err)
	}
	if n, err := s.UserCount(ctx); err != nil || n != 2 {
		t.Errorf("UserCount = %d, %v; want 2", n, err)
	}
}

func TestPHCRoundTripAndMalformed(t *testing.T) {
	h := newPasswordHasher()
	ctx := t.Context()
	enc, err := h.hash(ctx, "password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.verify(ctx, "password", enc); err != nil || !ok {
		t.Errorf("verify(right) = %v, %v", ok, err)
	}
	if ok, err := h.verify(ctx, "passwore", enc); err != nil || ok {
		t.Errorf("verify(wrong) = %v, %v", ok, err)
	}
	if ok, err := h.verify(ctx, "password", h.dummy); err != nil || ok {
		t.Errorf("verify(dummy) = %v, %v; want false, nil", ok, err)
	}
	for _, bad := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=18$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=99999999,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=19456,t=0,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=19456,t=2,p=0$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=19456,t=2,p=1$!!!$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
	} {
		if _, err := h.verify(ctx, "password", bad); !errors.Is(err, errMalformedHash) {
			t.Errorf("verify(%q) = %v, want errMalformedHash", bad, err)
		}
	}
}
