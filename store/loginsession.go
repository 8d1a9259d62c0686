package store

import (
	"context"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// CreateLoginSession starts a login session for user id that lasts ttl, and returns its token
// for the session cookie. Only the token's SHA-256 is stored. Expired sessions of all users are
// pruned on the way. ErrNotFound if the user does not exist; ErrInvalid if ttl is not positive.
func (s *Store) CreateLoginSession(ctx context.Context, id UserID, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", fmt.Errorf("%w: login session ttl must be positive", ErrInvalid)
	}
	token, hash, err := newToken()
	if err != nil {
		return "", fmt.Errorf("create login session: %w", err)
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("create login session: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_sessions WHERE expires_at <= ?`, now.Unix()); err != nil {
		return "", fmt.Errorf("prune login sessions: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO login_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		hash, id, now.Unix(), now.Add(ttl).Unix())
	if isConstraint(err, sqlite3.ErrConstraintForeignKey) {
		return "", fmt.Errorf("create login session for user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("create login session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("create login session: %w", err)
	}
	return token, nil
}

// UserBySessionToken returns the user a login-session token belongs to. An unknown, malformed
// or expired token gives ErrNotFound.
func (s *Store) UserBySessionToken(ctx context.Context, token string) (User, error) {
	if !wellFormedToken(token) {
		return User{}, fmt.Errorf("login session: %w", ErrNotFound)
	}
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM login_sessions JOIN users ON users.id = login_sessions.user_id
		 WHERE login_sessions.token_hash = ? AND login_sessions.expires_at > ?`,
		hashToken(token), s.now().Unix()))
	if err != nil {
		return User{}, fmt.Errorf("login session: %w", notFound(err))
	}
	return u, nil
}

// DeleteLoginSession ends the login session of token (logout). Ending an unknown or already
// ended session is not an error, so logging out twice is harmless.
func (s *Store) DeleteLoginSession(ctx context.Context, token string) error {
	if !wellFormedToken(token) {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM login_sessions WHERE token_hash = ?`, hashToken(token)); err != nil {
		return fmt.Errorf("delete login session: %w", err)
	}
	return nil
}
