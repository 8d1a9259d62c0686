package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"peerdesk/internal/testpg"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

// testClock is a settable clock for WithClock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock {
	return &testClock{now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// pg is the PostgreSQL server of a run with PEERDESK_TEST_DB=postgres: the tests then run
// against it (each in a database of its own), those of SQLite's own behaviour aside.
var pg *testpg.Server

func TestMain(m *testing.M) {
	if os.Getenv("PEERDESK_TEST_DB") == "postgres" {
		var err error
		if pg, err = testpg.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

// testDatabase returns where a test's fresh database is: a new PostgreSQL database in a
// PostgreSQL run, else a file under t.TempDir.
func testDatabase(t *testing.T) string {
	t.Helper()
	if pg != nil {
		return pg.NewDatabase(t)
	}
	return sqlitePath(t)
}

// openTest opens a store in a fresh database (testDatabase) and closes it at the end of the
// test; it returns the store and where its database is.
func openTest(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	return openAt(t, testDatabase(t), opts...)
}

// openSQLite is openTest on a SQLite file, whatever the run: for SQLite's own behaviour.
func openSQLite(t *testing.T, opts ...Option) (*Store, string) {
	t.Helper()
	return openAt(t, sqlitePath(t), opts...)
}

// sqlitePath is where a test's SQLite file goes.
func sqlitePath(t *testing.T) string { return filepath.Join(t.TempDir(), "sub", "dir", "peerdesk.db") }

func openAt(t *testing.T, path string, opts ...Option) (*Store, string) {
	t.Helper()
	s, err := Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", filepath.Join(t.TempDir(), "a?mode=memory")} {
		if _, err := Open(t.Context(), path); !errors.Is(err, ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", path, err)
		}
	}
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	_, path := openSQLite(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("database file mode %v, want no group/other access", perm)
	}
}

func TestCloseIdempotent(t *testing.T) {
	s, err := Open(t.Context(), testDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.UserCount(t.Context()); err == nil {
		t.Fatal("UserCount on a closed store succeeded")
	}
}

// TestPragmasOnEveryConnection holds several pooled connections at once, so each is a distinct
// SQLite connection, and checks that each has the DSN pragmas.
func TestPragmasOnEveryConnection(t *testing.T) {
	s, _ := openSQLite(t)
	ctx := t.Context()
	const n = 4
	for i := range n {
		conn, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var fk, busy int
		var mode string
		if err := conn.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&busy); err != nil {
			t.Fatal(err)
		}
		if fk != 1 || mode != "wal" || busy != 5000 {
			t.Errorf("connection %d: foreign_keys=%d journal_mode=%q busy_timeout=%d, want 1, wal, 5000", i, fk, mode, busy)
		}
	}
	if got := s.db.Stats().OpenConnections; got < n {
		t.Fatalf("only %d pooled connections open, want %d distinct", got, n)
	}
}

func TestReopenKeepsDataAndSkipsMigrations(t *testing.T) {
	clock := newTestClock()
	path := testDatabase(t)
	ctx := t.Context()
	s, err := Open(ctx, path, WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(ctx, "alice", "correct horse", true)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := s.CreateConnection(ctx, "Office PC")
	if err != nil {
		t.Fatal(err)
	}
	if len(appliedMigrations(t, s)) == 0 {
		t.Fatal("no migrations recorded")
	}
	s = reopen(t, s, path, clock, time.Hour)
	got, err := s.Authenticate(ctx, "alice", "correct horse")
	if err != nil || got != u {
		t.Errorf("Authenticate after reopen = %+v, %v; want %+v", got, err, u)
	}
	if got, err := s.Connection(ctx, c.ID); err != nil || got != c {
		t.Errorf("Connection after reopen = %+v, %v; want %+v", got, err, c)
	}
}

// appliedMigrations returns schema_migrations as version -> applied_at.
// databaseFiles returns the bytes of the SQLite file at path and of its write-ahead log, for
// tests that look for secrets in them.
func databaseFiles(t *testing.T, path string) []byte {
	t.Helper()
	var files []byte
	for _, p := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		files = append(files, b...)
	}
	return files
}

// reopen closes s, advances clock by d and opens path again, checking that no migration was
// recorded again; the new store closes with the test.
func reopen(t *testing.T, s *Store, path string, clock *testClock, d time.Duration) *Store {
	t.Helper()
	before := appliedMigrations(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(d)
	s, err := Open(t.Context(), path, WithClock(clock.Now))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if after := appliedMigrations(t, s); !equalMaps(before, after) {
		t.Errorf("schema_migrations changed on reopen: %v -> %v", before, after)
	}
	return s
}

func appliedMigrations(t *testing.T, s *Store) map[int]int64 {
	t.Helper()
	rows, err := s.db.QueryContext(t.Context(), `SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[int]int64{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		m[v] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func equalMaps(a, b map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestMigrateGeneric runs the migration runner on its own: a later migration added to an
// existing database applies once, earlier ones (which would fail if re-run) are skipped, and a
// failing migration leaves neither its changes nor its record.
func TestMigrateGeneric(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	now := time.Unix(1000, 0)
	// The store's own migrations recorded the low versions already; use high ones here.
	fsys := fstest.MapFS{"0101_a.sql": {Data: []byte(`CREATE TABLE t1 (x INTEGER); INSERT INTO t1 VALUES (1);`)}}
	if err := migrate(ctx, s.db, fsys, now, false); err != nil {
		t.Fatal(err)
	}
	fsys["0102_b.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE t2 (y INTEGER);`)}
	if err := migrate(ctx, s.db, fsys, now, false); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM t1`).Scan(&n); err != nil || n != 1 {
		t.Errorf("t1 rows = %d, %v; want 1 (migration 101 ran once)", n, err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO t2 VALUES (1)`); err != nil {
		t.Errorf("migration 102 not applied: %v", err)
	}

	fsys["0103_bad.sql"] = &fstest.MapFile{Data: []byte(`CREATE TABLE t3 (z INTEGER); SELECT nonsense FROM nowhere;`)}
	if err := migrate(ctx, s.db, fsys, now, false); err == nil {
		t.Fatal("failing migration reported success")
	}
	if _, ok := appliedMigrations(t, s)[103]; ok {
		t.Error("failed migration 103 recorded")
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO t3 VALUES (1)`); err == nil {
		t.Error("failed migration 103 left table t3 behind")
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no version":     {"init.sql": {}},
		"zero version":   {"0000_init.sql": {}},
		"duplicate":      {"0001_a.sql": {}, "1_b.sql": {}},
		"wrong suffix":   {"0001_a.sql.bak": {}},
		"upper-case tag": {"0001_Init.sql": {}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: loadMigrations accepted %v", name, fsys)
		}
	}
	ms, err := loadMigrations(fstest.MapFS{"10_c.sql": {}, "2_b.sql": {}, "0001_a.sql": {}})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, m := range ms {
		order = append(order, m.name)
	}
	if got := strings.Join(order, ","); got != "0001_a.sql,2_b.sql,10_c.sql" {
		t.Errorf("order %s, want numeric", got)
	}
}

// TestSecretsNotStoredInPlain writes a password, a login token and an agent token, then scans
// the database file and its WAL for their text.
func TestSecretsNotStoredInPlain(t *testing.T) {
	s, path := openSQLite(t)
	ctx := t.Context()
	const password = "Sup3r-Secret-Passw0rd"
	u, err := s.CreateUser(ctx, "bob", password, false)
	if err != nil {
		t.Fatal(err)
	}
	loginToken, err := s.CreateLoginSession(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, agentToken, err := s.CreateConnection(ctx, "Lab")
	if err != nil {
		t.Fatal(err)
	}

	files := databaseFiles(t, path)
	if !strings.Contains(string(files), "bob") {
		t.Fatal("username not found in database files; the scan is not looking at the data")
	}
	for name, secret := range map[string]string{"password": password, "login token": loginToken, "agent token": agentToken} {
		if strings.Contains(string(files), secret) {
			t.Errorf("%s found in plain in the database files", name)
		}
	}

	var hash []byte
	if err := s.db.QueryRowContext(ctx, `SELECT token_hash FROM login_sessions`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if string(hash) != string(hashToken(loginToken)) {
		t.Error("login_sessions does not hold the token's SHA-256")
	}
	var pwHash string
	if err := s.db.QueryRowContext(ctx, `SELECT password_hash FROM users`).Scan(&pwHash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pwHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("password hash %q is not an argon2id PHC string", pwHash)
	}
}

func TestContextCancelled(t *testing.T) {
	s, _ := openTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.CreateUser(ctx, "carol", "password1", false); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateUser with cancelled context = %v, want context.Canceled", err)
	}
}

// TestConcurrentWrites creates connections from several goroutines at once: immediate write
// transactions and the busy timeout must serialise them without SQLITE_BUSY errors.
func TestConcurrentWrites(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	const workers, each = 4, 10
	errs := make(chan error, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c, _, err := s.CreateConnection(ctx, fmt.Sprintf("w%d-%d", w, i))
				if err == nil {
					_, err = s.RotateAgentToken(ctx, c.ID)
				}
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if cs, err := s.Connections(ctx); err != nil || len(cs) != workers*each {
		t.Errorf("Connections = %d, %v; want %d", len(cs), err, workers*each)
	}
}
