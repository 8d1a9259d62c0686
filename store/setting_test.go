package store

import (
	"errors"
	"testing"
)

func TestSettingOrInitKeepsFirstValue(t *testing.T) {
	s, path := openTest(t)
	ctx := t.Context()
	v, err := s.SettingOrInit(ctx, "turn-secret", "first")
	if err != nil || v != "first" {
		t.Fatalf("SettingOrInit = %q, %v; want first", v, err)
	}
	if v, err = s.SettingOrInit(ctx, "turn-secret", "second"); err != nil || v != "first" {
		t.Fatalf("second SettingOrInit = %q, %v; want first", v, err)
	}
	if _, err := s.SettingOrInit(ctx, "", "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty key: %v, want ErrInvalid", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if v, err = s2.SettingOrInit(ctx, "turn-secret", "third"); err != nil || v != "first" {
		t.Fatalf("after reopen = %q, %v; want first", v, err)
	}
}
