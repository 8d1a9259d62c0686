package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// migrationName is the shape of a migration file: a positive version number, an underscore,
// a short description, ".sql" — e.g. "0002_share_links.sql". Versions apply in numeric order.
var migrationName = regexp.MustCompile(`^([0-9]{1,9})_[a-z0-9_]+\.sql$`)

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// noForeignKeys is the first line of a migration that rebuilds a table other tables reference:
// it runs with foreign keys off (SQLite's way of changing a table's constraints: a DROP TABLE
// with them on deletes the referencing rows), and the keys are checked before it commits.
const noForeignKeys = "-- peerdesk: foreign_keys=off"

// needsForeignKeysOff reports whether m starts with noForeignKeys.
func (m migration) needsForeignKeysOff() bool { return strings.HasPrefix(m.sql, noForeignKeys) }

// loadMigrations reads every *.sql file at the root of fsys, sorted by version. Badly named
// files and duplicate versions are errors, so a typo cannot silently skip a change.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %q: name must look like 0001_description.sql", e.Name())
		}
		version, err := strconv.Atoi(m[1])
		if err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %q: version must be positive", e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %q: %w", e.Name(), err)
		}
		ms = append(ms, migration{version: version, name: e.Name(), sql: string(body)})
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %q and %q share version %d", ms[i-1].name, ms[i].name, ms[i].version)
		}
	}
	return ms, nil
}

// migrate applies, in version order, every migration in fsys not yet recorded in
// schema_migrations. Each runs in its own transaction together with its record, so a failed
// migration leaves no trace and a reopen applies nothing twice. Two processes opening one
// database serialise here: SQLite's write transaction is taken immediately (DSN
// _txlock=immediate); on PostgreSQL (postgres) each transaction first takes an advisory lock.
func migrate(ctx context.Context, db *sql.DB, fsys fs.FS, now time.Time, postgres bool) error {
	ms, err := loadMigrations(fsys)
	if err != nil {
		return err
	}
	lock := ""
	if postgres {
		lock = `SELECT pg_advisory_xact_lock(` + migrationLock + `)`
	}
	if err := inTx(ctx, db, lock, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, now, lock); err != nil {
			return err
		}
	}
	return nil
}

// migrationLock is the key of the PostgreSQL advisory lock migrations hold.
const migrationLock = "7370657764"

// inTx runs the statements in one transaction.
func inTx(ctx context.Context, db *sql.DB, stmts ...string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	for _, q := range stmts {
		if q == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// applyMigration runs m unless schema_migrations already records it, on a connection of its
// own with foreign keys off if m needs it; lock, if not empty, runs first in its transaction.
func applyMigration(ctx context.Context, db *sql.DB, m migration, now time.Time, lock string) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	defer conn.Close()
	if m.needsForeignKeysOff() {
		// A pragma outside any transaction, on this connection only; it goes back on before
		// the connection returns to the pool.
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return fmt.Errorf("migration %s: foreign keys off: %w", m.name, err)
		}
		defer func() {
			if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); err != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // never reuse it then
			}
		}()
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %s: begin: %w", m.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if lock != "" {
		if _, err := tx.ExecContext(ctx, lock); err != nil {
			return fmt.Errorf("migration %s: lock: %w", m.name, err)
		}
	}
	var applied bool
	if err := tx.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)`, m.version,
	).Scan(&applied); err != nil {
		return fmt.Errorf("migration %s: check: %w", m.name, err)
	}
	if applied {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %s: %w", m.name, err)
	}
	if m.needsForeignKeysOff() {
		rows, err := tx.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return fmt.Errorf("migration %s: foreign key check: %w", m.name, err)
		}
		bad := rows.Next()
		_ = rows.Close()
		if bad {
			return fmt.Errorf("migration %s: it leaves rows whose foreign keys point nowhere", m.name)
		}
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.version, now.Unix(),
	); err != nil {
		return fmt.Errorf("migration %s: record: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return nil
}
