package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/mattn/go-sqlite3"
)

// PostgreSQL: the same Store over github.com/jackc/pgx/v5, for servers that share one
// database. The store's queries are written once, with SQLite's ? placeholders; the driver
// below numbers them ($1, $2, …) on their way to PostgreSQL. The schema is the same, version
// by version, written for each engine where their SQL differs (migrations/postgres).

// isPostgres reports whether dsn names a PostgreSQL database (postgres:// or postgresql://).
func isPostgres(dsn string) bool {
	d := strings.ToLower(dsn)
	return strings.HasPrefix(d, "postgres://") || strings.HasPrefix(d, "postgresql://")
}

// openPostgres opens the PostgreSQL database of dsn.
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: database URL: %v", ErrInvalid, redactDSN(err))
	}
	db := sql.OpenDB(rebindConnector{stdlib.GetConnector(*cfg)})
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	return db, nil
}

// redactDSN keeps a parse error from repeating the URL's password.
func redactDSN(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return "cannot parse it"
	}
	return err.Error()
}

// rebindConnector makes connections whose queries get PostgreSQL placeholders.
type rebindConnector struct{ inner driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(pgxConn)
	if !ok {
		_ = conn.Close()
		return nil, fmt.Errorf("store: pgx connection %T lacks what the store needs", conn)
	}
	return rebindConn{pc}, nil
}

func (c rebindConnector) Driver() driver.Driver { return c.inner.Driver() }

// pgxConn is what pgx's database/sql connection implements, and rebindConn passes on.
type pgxConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.ConnBeginTx
	driver.Pinger
	driver.SessionResetter
	driver.NamedValueChecker
}

// rebindConn is a pgx connection whose queries' ? placeholders become $n.
type rebindConn struct{ pgxConn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.pgxConn.Prepare(rebind(query))
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.pgxConn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.pgxConn.ExecContext(ctx, rebind(query), args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.pgxConn.QueryContext(ctx, rebind(query), args)
}

// rebound caches rebind's results: the store runs a fixed set of queries.
var rebound sync.Map

// rebind numbers the ? placeholders of query outside string literals, quoted identifiers,
// comments and $$-quoted text: $1, $2, …. (The store writes no E” strings, no $tag$ quotes and
// no jsonb ? operators, which it would not know.)
func rebind(query string) string {
	if v, ok := rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); {
		if end := skipQuoted(query, i); end > i {
			b.WriteString(query[i:end])
			i = end
			continue
		}
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		} else {
			b.WriteByte(query[i])
		}
		i++
	}
	out := b.String()
	rebound.Store(query, out)
	return out
}

// quoted are the spans in which a ? is no placeholder: an opening and its closing.
var quoted = [][2]string{{"'", "'"}, {`"`, `"`}, {"--", "\n"}, {"/*", "*/"}, {"$$", "$$"}}

// skipQuoted returns the end of the quoted span that opens at query[i] (the end of query if it
// never closes), or i if none opens there.
func skipQuoted(query string, i int) int {
	for _, q := range quoted {
		if strings.HasPrefix(query[i:], q[0]) {
			j := strings.Index(query[i+len(q[0]):], q[1])
			if j < 0 {
				return len(query)
			}
			return i + len(q[0]) + j + len(q[1])
		}
	}
	return i
}

// isConstraint reports whether err is a constraint violation of the kind SQLite's extended
// code names (sqlite3.ErrConstraintUnique, …), from SQLite or its PostgreSQL equivalent.
func isConstraint(err error, code sqlite3.ErrNoExtended) bool {
	var serr sqlite3.Error
	if errors.As(err, &serr) {
		return serr.ExtendedCode == code
	}
	var perr *pgconn.PgError
	if !errors.As(err, &perr) {
		return false
	}
	switch code {
	case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
		return perr.Code == "23505" // unique_violation, primary keys included
	case sqlite3.ErrConstraintForeignKey:
		return perr.Code == "23503"
	case sqlite3.ErrConstraintCheck:
		return perr.Code == "23514"
	}
	return false
}

// ErrClaimed means another server holds the database (ClaimServer): a single server while
// another server or cluster node runs, a cluster node while a single server runs or another
// process runs as the same node.
var ErrClaimed = errors.New("store: another peerdesk server uses this database")

// serverLock is the key of the PostgreSQL advisory lock servers hold for their life: a single
// server exclusively, cluster nodes shared.
const serverLock = 7370657765

// ClaimServer makes this process a signaling server of its database until Close. A server
// ends its previous run's live sessions and recordings at start, which would end another
// live server's: so on PostgreSQL a single server (a store without WithNode) holds an
// exclusive session-level advisory lock, and a cluster node a shared one plus an exclusive
// lock on its node name; ErrClaimed while they conflict. On SQLite (one file, one host) it
// does nothing. The account commands need no claim.
func (s *Store) ClaimServer(ctx context.Context) error {
	if !s.postgres {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("claim the database: %w", err)
	}
	var got bool
	q := `SELECT pg_try_advisory_lock(` + strconv.Itoa(serverLock) + `)`
	var args []any
	if s.node != "" {
		q = `SELECT pg_try_advisory_lock_shared(` + strconv.Itoa(serverLock) + `) AND pg_try_advisory_lock(hashtextextended(?, 0))`
		args = append(args, "peerdesk node "+s.node) // NodeAlive probes it
	}
	if err := conn.QueryRowContext(ctx, q, args...).Scan(&got); err != nil {
		_ = conn.Close()
		return fmt.Errorf("claim the database: %w", err)
	}
	if !got {
		_, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock_all()`)
		_ = conn.Close()
		return ErrClaimed
	}
	// The claim must end soon after its host goes dark (no FIN): the server gives up on the
	// connection within about 25 s instead of the system's two hours.
	for _, set := range []string{`SET tcp_keepalives_idle = 10`, `SET tcp_keepalives_interval = 5`,
		`SET tcp_keepalives_count = 3`, `SET tcp_user_timeout = 25000`} {
		if _, err := conn.ExecContext(ctx, set); err != nil {
			_ = conn.Close()
			return fmt.Errorf("claim the database: %w", err)
		}
	}
	s.claimMu.Lock()
	s.claim = conn
	s.claimMu.Unlock()
	return nil
}

// CheckClaim checks that this process still holds its claim (ClaimServer), and claims again
// if the connection holding it broke (the database restarted, say); ErrClaimed if another
// process took it meanwhile. A cluster node calls it every heartbeat: the others take a node
// without its claim for dead. Without a claim (SQLite) it does nothing.
func (s *Store) CheckClaim(ctx context.Context) error {
	s.claimMu.Lock()
	conn := s.claim
	s.claimMu.Unlock()
	if conn == nil {
		return nil
	}
	if err := conn.PingContext(ctx); err == nil {
		return nil
	}
	_ = conn.Close()
	return s.ClaimServer(ctx)
}
