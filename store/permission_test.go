package store

import (
	"errors"
	"slices"
	"testing"
)

func TestPermissions(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	admin, err := s.CreateUser(ctx, "root", "password", true)
	if err != nil {
		t.Fatal(err)
	}
	user, err := s.CreateUser(ctx, "alice", "password", false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateUser(ctx, "bob", "password", false)
	if err != nil {
		t.Fatal(err)
	}
	var cs []Connection
	for _, name := range []string{"c1", "c2", "c3"} {
		c, _, err := s.CreateConnection(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	c1, c2, c3 := cs[0], cs[1], cs[2]

	for _, g := range []Connection{c3, c1, c1} { // granting twice is fine
		if err := s.Grant(ctx, user.ID, g.ID); err != nil {
			t.Fatalf("Grant(%s): %v", g.Name, err)
		}
	}
	if err := s.Grant(ctx, user.ID, c3.ID+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("Grant(unknown connection) = %v, want ErrNotFound", err)
	}
	if err := s.Grant(ctx, other.ID+100, c1.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Grant(unknown user) = %v, want ErrNotFound", err)
	}

	checkFor := func(u User, want ...Connection) {
		t.Helper()
		got, err := s.ConnectionsFor(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("ConnectionsFor(%s) = %+v, want %+v", u.Username, got, want)
		}
	}
	checkFor(admin, c1, c2, c3)
	checkFor(user, c1, c3)
	checkFor(other)

	for _, tc := range []struct {
		u    User
		c    Connection
		want bool
	}{
		{admin, c2, true}, {user, c1, true}, {user, c2, false}, {user, c3, true}, {other, c1, false},
	} {
		if got, err := s.CanUse(ctx, tc.u, tc.c.ID); err != nil || got != tc.want {
			t.Errorf("CanUse(%s, %s) = %v, %v; want %v", tc.u.Username, tc.c.Name, got, err, tc.want)
		}
	}
	for _, u := range []User{admin, user} {
		if _, err := s.CanUse(ctx, u, c3.ID+100); !errors.Is(err, ErrNotFound) {
			t.Errorf("CanUse(%s, unknown) = %v, want ErrNotFound", u.Username, err)
		}
	}

	if err := s.Revoke(ctx, user.ID, c3.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, user.ID, c3.ID); err != nil {
		t.Errorf("second Revoke: %v", err)
	}
	checkFor(user, c1)

	// Deleting a connection takes its grants with it.
	if err := s.Grant(ctx, other.ID, c1.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, c1.ID); err != nil {
		t.Fatal(err)
	}
	checkFor(user)
	checkFor(other)
	var grants int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM permissions WHERE connection_id = ?`, c1.ID).Scan(&grants); err != nil || grants != 0 {
		t.Errorf("permissions rows for deleted connection = %d, %v; want 0", grants, err)
	}

	// Deleting a user does too.
	if err := s.Grant(ctx, user.ID, c2.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteUser(ctx, user.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM permissions`).Scan(&grants); err != nil || grants != 0 {
		t.Errorf("permissions rows after deleting user = %d, %v; want 0", grants, err)
	}
}
