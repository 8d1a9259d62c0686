package store

import (
	"errors"
	"io/fs"
	"sync"
	"testing"
)

// TestMigrationsMatch: PostgreSQL has a version of every SQLite migration, under the same name,
// and no other.
func TestMigrationsMatch(t *testing.T) {
	names := func(dir string) []string {
		sub, err := fs.Sub(migrationFiles, dir)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := loadMigrations(sub)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.name)
		}
		return out
	}
	lite, pg := names("migrations"), names("migrations/postgres")
	if len(lite) == 0 || len(lite) != len(pg) {
		t.Fatalf("SQLite migrations %v, PostgreSQL %v", lite, pg)
	}
	for i := range lite {
		if lite[i] != pg[i] {
			t.Errorf("migration %d: SQLite %s, PostgreSQL %s", i, lite[i], pg[i])
		}
	}
}

func TestRebind(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT a FROM t WHERE b = ? AND c = ?`:         `SELECT a FROM t WHERE b = $1 AND c = $2`,
		`SELECT '?', "a?b" FROM t WHERE x = ?`:          `SELECT '?', "a?b" FROM t WHERE x = $1`,
		"SELECT 1 -- a comment? it's here\nWHERE y = ?": "SELECT 1 -- a comment? it's here\nWHERE y = $1",
		`SELECT 'it''s' WHERE z = ?`:                    `SELECT 'it''s' WHERE z = $1`,
		`SELECT 'unterminated ?`:                        `SELECT 'unterminated ?`,
		`no placeholders`:                               `no placeholders`,
		`SELECT /* what? */ x WHERE y = ?`:              `SELECT /* what? */ x WHERE y = $1`,
		`SELECT $$a ? b$$, ?`:                           `SELECT $$a ? b$$, $1`,
		`SELECT /* open ?`:                              `SELECT /* open ?`,
	} {
		if got := rebind(in); got != want {
			t.Errorf("rebind(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestConcurrentOpen: stores opened at once on one new database (servers starting together)
// all come up, the schema migrated once.
func TestConcurrentOpen(t *testing.T) {
	path := testDatabase(t)
	var wg sync.WaitGroup
	stores := make([]*Store, 3)
	errs := make([]error, 3)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(t.Context(), path)
		}()
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("open %d: %v", i, errs[i])
		}
		defer s.Close()
	}
	if n := len(appliedMigrations(t, stores[0])); n != len(appliedMigrations(t, stores[2])) || n < 9 {
		t.Errorf("%d migrations recorded", n)
	}
}

// TestClaimServer: one server at a time claims a PostgreSQL database; the claim ends with its
// store. SQLite needs none.
func TestClaimServer(t *testing.T) {
	path := testDatabase(t)
	a, _ := openAt(t, path)
	if err := a.ClaimServer(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, _ := openAt(t, path)
	err := b.ClaimServer(t.Context())
	if pg == nil {
		if err != nil {
			t.Fatalf("SQLite claim: %v", err)
		}
		return
	}
	if !errors.Is(err, ErrClaimed) {
		t.Fatalf("second claim: %v, want ErrClaimed", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.ClaimServer(t.Context()); err != nil {
		t.Fatalf("claim after the first server closed: %v", err)
	}
}
