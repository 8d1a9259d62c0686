// Package store persists peerdesk's users, login sessions, connections, permissions, sharing
// profiles, live-session history, share links and the recordings' index in a SQLite file, or
// in a PostgreSQL database that several servers share (postgres.go). Secrets never reach the
// database in plain: passwords are argon2id hashes, tokens and share keys SHA-256 hashes. Times
// are stored as unix seconds and returned in UTC.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" database/sql driver
)

//go:embed migrations
var migrationFiles embed.FS

// Store is peerdesk's database. It is safe for concurrent use; Close it when done.
type Store struct {
	db       *sql.DB
	postgres bool // db is PostgreSQL (postgres.go), not SQLite
	claimMu  sync.Mutex
	claim    *sql.Conn // holds ClaimServer's lock; nil without
	node     string    // the cluster node this store serves (WithNode); "" for a single server
	now      func() time.Time
	hasher   *passwordHasher

	closeOnce sync.Once
	closeErr  error
}

// Option adjusts a Store at Open.
type Option func(*Store)

// WithClock makes the Store read the current time from now instead of time.Now. Tests use it to
// move the clock past expiries; a nil now keeps time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Store) {
		if now != nil {
			s.now = now
		}
	}
}

// Open opens the database at path and brings its schema up to date: a PostgreSQL database for
// a postgres:// or postgresql:// URL (postgres.go), else a SQLite file, created with its
// parent directory if needed. Every pooled SQLite connection runs with WAL journaling, foreign
// keys enforced, a 5 s busy timeout and immediate write transactions; a new file is created
// readable by its owner only, since it holds password hashes.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if isPostgres(path) {
		db, err := openPostgres(path)
		if err != nil {
			return nil, err
		}
		return open(ctx, db, "PostgreSQL", "migrations/postgres", opts)
	}
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?\x00") || strings.Contains(path, "://") {
		return nil, fmt.Errorf("%w: path must name a file (or be a postgres:// URL) and not contain '?'", ErrInvalid)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}

	// Pragmas go in the DSN so the driver applies them to every connection the pool opens;
	// a one-off PRAGMA statement would only reach whichever connection ran it.
	params := url.Values{
		"_journal_mode": {"WAL"},
		"_foreign_keys": {"on"},
		"_busy_timeout": {"5000"},
		"_synchronous":  {"NORMAL"},
		"_txlock":       {"immediate"},
	}
	db, err := sql.Open("sqlite3", path+"?"+params.Encode())
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return open(ctx, db, path, "migrations", opts)
}

// open makes the Store of db (named name in errors, never with a password) and applies the
// migrations of directory dir.
func open(ctx context.Context, db *sql.DB, name, dir string, opts []Option) (*Store, error) {
	s := &Store{db: db, postgres: dir != "migrations", now: time.Now, hasher: newPasswordHasher()}
	for _, opt := range opts {
		opt(s)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	sub, err := fs.Sub(migrationFiles, dir)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := migrate(ctx, db, sub, s.now(), dir != "migrations"); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close closes the database. It is safe to call more than once; later calls return the first
// call's result. Calls made on a closed Store fail.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.claimMu.Lock()
		defer s.claimMu.Unlock()
		if s.claim != nil {
			// Unlocked before the connection closes: the server would notice the closed
			// connection only a moment later, and a server starting right after would be refused.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, _ = s.claim.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`)
			cancel()
			_ = s.claim.Close()
		}
		s.closeErr = s.db.Close()
	})
	return s.closeErr
}

// unixTime turns stored unix seconds back into a UTC time.
func unixTime(sec int64) time.Time {
	return time.Unix(sec, 0).UTC()
}

// notFound maps sql.ErrNoRows to ErrNotFound and passes other errors through.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// expectOneRow checks the outcome of an UPDATE or DELETE by primary key: ErrNotFound when no
// row matched.
func expectOneRow(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// collectRows scans every row of rows with scan and closes rows.
func collectRows[T any](rows *sql.Rows, scan func(rowScanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
