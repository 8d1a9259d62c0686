package store

import (
	"context"
	"fmt"
)

// SettingOrInit returns the value of setting key, first storing value under key if the key has
// none yet; the first value stored wins, also between concurrent callers. For values generated
// once and kept across restarts, such as the TURN shared secret.
func (s *Store) SettingOrInit(ctx context.Context, key, value string) (string, error) {
	if key == "" {
		return "", &FieldError{Field: "key", Problem: "must not be empty"}
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, value); err != nil {
		return "", fmt.Errorf("store setting %q: %w", key, err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return "", fmt.Errorf("read setting %q: %w", key, err)
	}
	return v, nil
}
