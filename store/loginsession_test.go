package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLoginSessionExpiry(t *testing.T) {
	clock := newTestClock()
	s, _ := openTest(t, WithClock(clock.Now))
	ctx := t.Context()
	u, err := s.CreateUser(ctx, "alice", "password", false)
	if err != nil {
		t.Fatal(err)
	}
	token, err := s.CreateLoginSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 43 || strings.ContainsAny(token, "+/=") {
		t.Errorf("token %q is not 32 bytes of unpadded base64url", token)
	}
	if got, err := s.UserBySessionToken(ctx, token); err != nil || got != u {
		t.Fatalf("UserBySessionToken = %+v, %v; want %+v", got, err, u)
	}

	clock.Advance(time.Hour - time.Second)
	if _, err := s.UserBySessionToken(ctx, token); err != nil {
		t.Fatalf("session ended before its ttl: %v", err)
	}
	clock.Advance(time.Second)
	if _, err := s.UserBySessionToken(ctx, token); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session: %v, want ErrNotFound", err)
	}

	// Creating another session prunes the expired row.
	if _, err := s.CreateLoginSession(ctx, u.ID, time.Hour); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_sessions`).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("login_sessions rows = %d, %v; want 1 after pruning", rows, err)
	}
}

func TestLoginSessionLookupAndLogout(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, "alice", "password", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateLoginSession(ctx, u.ID, 0); !errors.Is(err, ErrInvalid) {
		t.Errorf("ttl 0: %v, want ErrInvalid", err)
	}
	if _, err := s.CreateLoginSession(ctx, u.ID+100, time.Hour); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown user: %v, want ErrNotFound", err)
	}
	t1, err := s.CreateLoginSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	t2, err := s.CreateLoginSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if t1 == t2 {
		t.Fatal("two sessions got the same token")
	}
	for _, bad := range []string{"", "x", t1[:42], t1 + "A", strings.Repeat("A", 1<<16), strings.Repeat("!", 43)} {
		if _, err := s.UserBySessionToken(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("UserBySessionToken(%.10q…) = %v, want ErrNotFound", bad, err)
		}
	}

	if err := s.DeleteLoginSession(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteLoginSession(ctx, t1); err != nil {
		t.Errorf("second logout: %v", err)
	}
	if _, err := s.UserBySessionToken(ctx, t1); !errors.Is(err, ErrNotFound) {
		t.Errorf("after logout: %v, want ErrNotFound", err)
	}
	if _, err := s.UserBySessionToken(ctx, t2); err != nil {
		t.Errorf("other session ended by logout: %v", err)
	}

	if err := s.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserBySessionToken(ctx, t2); !errors.Is(err, ErrNotFound) {
		t.Errorf("session of deleted user: %v, want ErrNotFound", err)
	}
}
