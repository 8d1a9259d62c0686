package store

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// TestLastAdmin: the last administrator can be neither demoted nor deleted; any other can.
func TestLastAdmin(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	var us []User
	for _, name := range []string{"ann", "ben", "cid"} {
		u, err := s.CreateUser(ctx, name, "password", name != "cid")
		if err != nil {
			t.Fatal(err)
		}
		us = append(us, u)
	}
	ann, ben, cid := us[0], us[1], us[2]
	if u, err := s.SetAdmin(ctx, ann.ID, false); err != nil || u.Admin {
		t.Fatalf("demote ann with ben left: %+v, %v", u, err)
	}
	if _, err := s.SetAdmin(ctx, ben.ID, false); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demote ben, the last admin: %v", err)
	}
	if err := s.DeleteUser(ctx, ben.ID); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("delete ben, the last admin: %v", err)
	}
	if u, err := s.SetAdmin(ctx, ben.ID, true); err != nil || !u.Admin { // a no-op is fine
		t.Fatalf("ben stays admin: %+v, %v", u, err)
	}
	if u, err := s.SetAdmin(ctx, cid.ID, true); err != nil || !u.Admin {
		t.Fatalf("promote cid: %+v, %v", u, err)
	}
	if err := s.DeleteUser(ctx, ben.ID); err != nil {
		t.Fatalf("delete ben with cid admin: %v", err)
	}
	if err := s.DeleteUser(ctx, ann.ID); err != nil {
		t.Fatalf("delete ann, no admin: %v", err)
	}
	if _, err := s.SetAdmin(ctx, ben.ID, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("set admin of a deleted user: %v", err)
	}
	if err := s.DeleteUser(ctx, ben.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete a deleted user: %v", err)
	}
}

func TestUserGrants(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	u, err := s.CreateUser(ctx, "dee", "password", false)
	if err != nil {
		t.Fatal(err)
	}
	var conns []ConnectionID
	for _, name := range []string{"one", "two", "three"} {
		c, _, err := s.CreateConnection(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c.ID)
	}
	for _, c := range []ConnectionID{conns[2], conns[0]} {
		if err := s.Grant(ctx, u.ID, c); err != nil {
			t.Fatal(err)
		}
	}
	g, err := s.UserGrants(ctx)
	if err != nil || len(g) != 1 || !slices.Equal(g[u.ID], []ConnectionID{conns[0], conns[2]}) {
		t.Fatalf("grants %v, %v", g, err)
	}
}

// TestLastAdminConcurrent: two administrators demoting, or deleting, each other at the same
// moment never both win, round after round.
func TestLastAdminConcurrent(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a, err := s.CreateUser(ctx, "ann", "password1", true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.CreateUser(ctx, "bob", "password1", true)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 30 {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []UserID{a.ID, b.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = s.SetAdmin(ctx, id, false)
			}()
		}
		wg.Wait()
		admins := 0
		for _, id := range []UserID{a.ID, b.ID} {
			if u, err := s.User(ctx, id); err == nil && u.Admin {
				admins++
			}
		}
		if admins != 1 || (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: %d admins left, errors %v", round, admins, errs)
		}
		for _, id := range []UserID{a.ID, b.ID} {
			if _, err := s.SetAdmin(ctx, id, true); err != nil {
				t.Fatal(err)
			}
		}
	}
}
