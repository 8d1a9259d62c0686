package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// UserID identifies a user account.
type UserID int64

// User is an account that can log in. Admins may use every connection and manage the others.
type User struct {
	ID       UserID
	Username string
	Admin    bool
	// CreatedAt is when the account was created, in UTC, to the second.
	CreatedAt time.Time
}

// Limits on account fields.
const (
	maxUsernameLen = 64
	minPasswordLen = 8
	maxPasswordLen = 1024
)

// validateUsername accepts 1-64 ASCII letters, digits, '.', '_' and '-'.
func validateUsername(name string) error {
	if len(name) == 0 || len(name) > maxUsernameLen {
		return fmt.Errorf("%w: username must be 1-%d characters of letters, digits, . _ -", ErrInvalid, maxUsernameLen)
	}
	for _, c := range []byte(name) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: username must be 1-%d characters of letters, digits, . _ -", ErrInvalid, maxUsernameLen)
		}
	}
	return nil
}

// validatePassword accepts 8-1024 bytes; the upper bound caps the hashing input.
func validatePassword(password string) error {
	if len(password) < minPasswordLen || len(password) > maxPasswordLen {
		return fmt.Errorf("%w: password must be %d-%d bytes", ErrInvalid, minPasswordLen, maxPasswordLen)
	}
	return nil
}

// rowScanner is what *sql.Row and *sql.Rows have in common.
type rowScanner interface {
	Scan(dest ...any) error
}

// userColumns are the columns scanUser reads, in order.
const userColumns = `users.id, users.username, users.admin, users.created_at`

// scanUser reads a row that starts with userColumns; extra receives any columns after them.
func scanUser(r rowScanner, extra ...any) (User, error) {
	var u User
	var created int64
	if err := r.Scan(append([]any{&u.ID, &u.Username, &u.Admin, &created}, extra...)...); err != nil {
		return User{}, err
	}
	u.CreatedAt = unixTime(created)
	return u, nil
}

// CreateUser adds an account. Usernames are unique regardless of ASCII case ("Alice" and
// "alice" cannot both exist): a taken name gives ErrExists, a bad username or password
// ErrInvalid.
func (s *Store) CreateUser(ctx context.Context, username, password string, admin bool) (User, error) {
	if err := validateUsername(username); err != nil {
		return User{}, err
	}
	if err := validatePassword(password); err != nil {
		return User{}, err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	created := s.now().Unix()
	var id int64
	err = s.db.QueryRowContext(ctx,
		`INSERT INTO users (username, password_hash, admin, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		username, hash, admin, created).Scan(&id)
	if isConstraint(err, sqlite3.ErrConstraintUnique) {
		return User{}, fmt.Errorf("create user %q: %w", username, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return User{ID: UserID(id), Username: username, Admin: admin, CreatedAt: unixTime(created)}, nil
}

// Authenticate returns the user whose username (matched regardless of ASCII case) and password
// match. An unknown user and a wrong password both give ErrBadCredentials and take the same
// hashing time, so neither the answer nor its timing tells whether the account exists.
func (s *Store) Authenticate(ctx context.Context, username, password string) (User, error) {
	if validateUsername(username) != nil || validatePassword(password) != nil {
		// Malformed input cannot match any account; answering fast reveals nothing.
		return User{}, fmt.Errorf("authenticate: %w", ErrBadCredentials)
	}
	var hash string
	u, err := scanUser(s.db.QueryRowContext(ctx,
		`SELECT `+userColumns+`, password_hash FROM users WHERE username = ?`, username), &hash)
	known := err == nil
	switch {
	case errors.Is(err, sql.ErrNoRows):
		hash = s.hasher.dummy
	case err != nil:
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	ok, err := s.hasher.verify(ctx, password, hash)
	if err != nil {
		return User{}, fmt.Errorf("authenticate: %w", err) // no username: people type passwords there
	}
	if !ok || !known {
		return User{}, fmt.Errorf("authenticate: %w", ErrBadCredentials)
	}
	return u, nil
}

// SetPassword replaces the password of user id and ends all of that user's login sessions, so
// a reset locks out whoever knew the old password. ErrNotFound if the user does not exist.
func (s *Store) SetPassword(ctx context.Context, id UserID, password string) error {
	if err := validatePassword(password); err != nil {
		return err
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	if err := expectOneRow(res, err); err != nil {
		return fmt.Errorf("set password of user %d: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM login_sessions WHERE user_id = ?`, id); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	return nil
}

// User returns the user with the given id, or ErrNotFound.
func (s *Store) User(ctx context.Context, id UserID) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return User{}, fmt.Errorf("user %d: %w", id, notFound(err))
	}
	return u, nil
}

// UserByName returns the user with the given username (matched regardless of ASCII case), or
// ErrNotFound.
func (s *Store) UserByName(ctx context.Context, name string) (User, error) {
	if validateUsername(name) != nil {
		return User{}, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, name))
	if err != nil {
		return User{}, fmt.Errorf("user %q: %w", name, notFound(err))
	}
	return u, nil
}

// Users returns every user, ordered by username.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	us, err := collectRows(rows, func(r rowScanner) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// UserCount returns the number of users; zero means a fresh install that needs a first admin.
func (s *Store) UserCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// DeleteUser removes user id together with its login sessions and permissions, or returns
// ErrNotFound, or ErrLastAdmin for the last administrator (checked in the same statement).
func (s *Store) DeleteUser(ctx context.Context, id UserID) error {
	res, err := s.usersGuarded(ctx,
		`DELETE FROM users WHERE id = ? AND (NOT admin OR (SELECT COUNT(*) FROM users WHERE admin AND id <> ?) > 0)`, id, id)
	if err := s.lastAdminOr(ctx, id, expectOneRow(res, err)); err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}
