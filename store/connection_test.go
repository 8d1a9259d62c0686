package store

import (
	"errors"
	"strings"
	"testing"
)

func TestConnectionValidation(t *testing.T) {
	s, _ := openTest(t)
	for _, tc := range []struct {
		name, connName string
		wantErr        error
	}{
		{"ok", "Office PC", nil},
		{"unicode", "Büro – Rechner 3", nil},
		{"100 chars", strings.Repeat("é", 100), nil},
		{"empty", "", ErrInvalid},
		{"101 chars", strings.Repeat("c", 101), ErrInvalid},
		{"leading space", " lab", ErrInvalid},
		{"trailing space", "lab ", ErrInvalid},
		{"newline", "la\nb", ErrInvalid},
		{"tab", "la\tb", ErrInvalid},
		{"NUL", "la\x00b", ErrInvalid},
		{"invalid UTF-8", "la\xffb", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, token, err := s.CreateConnection(t.Context(), tc.connName)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("CreateConnection = %v, want %v", err, tc.wantErr)
			}
			if err == nil && (c.Name != tc.connName || c.ID == 0 || token == "") {
				t.Errorf("CreateConnection = %+v, %q", c, token)
			}
			if err != nil && !strings.Contains(err.Error(), "connection name") {
				t.Errorf("error %q does not name the field", err)
			}
		})
	}
}

func TestAgentTokenLookupAndRotation(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	a, tokA, err := s.CreateConnection(ctx, "A")
	if err != nil {
		t.Fatal(err)
	}
	b, tokB, err := s.CreateConnection(ctx, "B")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ConnectionByAgentToken(ctx, tokA); err != nil || got != a {
		t.Errorf("ConnectionByAgentToken(A) = %+v, %v", got, err)
	}
	if got, err := s.ConnectionByAgentToken(ctx, tokB); err != nil || got != b {
		t.Errorf("ConnectionByAgentToken(B) = %+v, %v", got, err)
	}
	for _, bad := range []string{"", tokA[:40], tokA + "x", strings.Repeat("z", 4096)} {
		if _, err := s.ConnectionByAgentToken(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("ConnectionByAgentToken(%.10q…) = %v, want ErrNotFound", bad, err)
		}
	}

	newA, err := s.RotateAgentToken(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if newA == tokA {
		t.Fatal("rotation returned the old token")
	}
	if _, err := s.ConnectionByAgentToken(ctx, tokA); !errors.Is(err, ErrNotFound) {
		t.Errorf("old token after rotation: %v, want ErrNotFound", err)
	}
	if got, err := s.ConnectionByAgentToken(ctx, newA); err != nil || got != a {
		t.Errorf("new token = %+v, %v; want %+v", got, err, a)
	}
	if got, err := s.ConnectionByAgentToken(ctx, tokB); err != nil || got != b {
		t.Errorf("B's token after rotating A = %+v, %v", got, err)
	}
	if _, err := s.RotateAgentToken(ctx, b.ID+100); !errors.Is(err, ErrNotFound) {
		t.Errorf("RotateAgentToken(unknown) = %v, want ErrNotFound", err)
	}
}

func TestConnectionLookupListDelete(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	var cs []Connection
	for _, name := range []string{"zeta", "Alpha", "mid"} {
		c, _, err := s.CreateConnection(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	zeta, alpha, mid := cs[0], cs[1], cs[2]
	if _, _, err := s.CreateConnection(ctx, "ALPHA"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate name: %v, want ErrExists", err)
	}

	all, err := s.Connections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0] != alpha || all[1] != mid || all[2] != zeta {
		t.Errorf("Connections = %+v, want Alpha, mid, zeta", all)
	}
	if got, err := s.ConnectionByName(ctx, "alpha"); err != nil || got != alpha {
		t.Errorf("ConnectionByName = %+v, %v", got, err)
	}
	if got, err := s.Connection(ctx, mid.ID); err != nil || got != mid {
		t.Errorf("Connection = %+v, %v", got, err)
	}
	if _, err := s.ConnectionByName(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ConnectionByName(nope) = %v, want ErrNotFound", err)
	}

	if err := s.DeleteConnection(ctx, mid.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteConnection(ctx, mid.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteConnection = %v, want ErrNotFound", err)
	}
	if _, err := s.Connection(ctx, mid.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Connection(deleted) = %v, want ErrNotFound", err)
	}
}
