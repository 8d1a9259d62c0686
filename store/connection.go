package store

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mattn/go-sqlite3"
)

// ConnectionID identifies a connection.
type ConnectionID int64

// Connection is a named remote desktop, served by one relay agent that authenticates with the
// connection's agent token.
type Connection struct {
	ID   ConnectionID
	Name string
	// CreatedAt is when the connection was created, in UTC, to the second.
	CreatedAt time.Time
	// Record says its live sessions are recorded; RecordKeys that key events are kept in the
	// recording too (everything typed, passwords included: off unless asked for).
	Record, RecordKeys bool
}

// maxConnectionNameLen bounds a connection name, in characters.
const maxConnectionNameLen = 100

// validName reports whether name is 1-maxLen printable characters (any script, spaces inside)
// without leading or trailing spaces: the rule for names people give things.
func validName(name string, maxLen int) bool {
	return utf8.ValidString(name) && name != "" && utf8.RuneCountInString(name) <= maxLen &&
		strings.TrimSpace(name) == name && strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) < 0
}

// validateConnectionName accepts 1-100 printable characters (any script, spaces inside) without
// leading or trailing spaces.
func validateConnectionName(name string) error {
	if !validName(name, maxConnectionNameLen) {
		return fmt.Errorf("%w: connection name must be 1-%d printable characters without leading or trailing spaces",
			ErrInvalid, maxConnectionNameLen)
	}
	return nil
}

// connectionColumns are the columns scanConnection reads, in order.
const connectionColumns = `connections.id, connections.name, connections.created_at, connections.record, connections.record_keys`

func scanConnection(r rowScanner) (Connection, error) {
	var c Connection
	var created int64
	if err := r.Scan(&c.ID, &c.Name, &created, &c.Record, &c.RecordKeys); err != nil {
		return Connection{}, err
	}
	c.CreatedAt = unixTime(created)
	return c, nil
}

// CreateConnection adds a connection and returns it with the agent token its relay agent must
// present; only the token's SHA-256 is kept, so this is the one time it can be shown. Names are
// unique regardless of ASCII case: a taken name gives ErrExists, a bad one ErrInvalid.
func (s *Store) CreateConnection(ctx context.Context, name string) (Connection, string, error) {
	if err := validateConnectionName(name); err != nil {
		return Connection{}, "", err
	}
	token, hash, err := newToken()
	if err != nil {
		return Connection{}, "", fmt.Errorf("create connection: %w", err)
	}
	created := s.now().Unix()
	var id int64
	err = s.db.QueryRowContext(ctx,
		`INSERT INTO connections (name, agent_token_hash, created_at) VALUES (?, ?, ?) RETURNING id`, name, hash, created).Scan(&id)
	if isConstraint(err, sqlite3.ErrConstraintUnique) {
		return Connection{}, "", fmt.Errorf("create connection %q: %w", name, ErrExists)
	}
	if err != nil {
		return Connection{}, "", fmt.Errorf("create connection: %w", err)
	}
	return Connection{ID: ConnectionID(id), Name: name, CreatedAt: unixTime(created)}, token, nil
}

// RotateAgentToken gives connection id a new agent token and returns it; the old token stops
// working at once. ErrNotFound if the connection does not exist.
func (s *Store) RotateAgentToken(ctx context.Context, id ConnectionID) (string, error) {
	token, hash, err := newToken()
	if err != nil {
		return "", fmt.Errorf("rotate agent token: %w", err)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE connections SET agent_token_hash = ? WHERE id = ?`, hash, id)
	if err := expectOneRow(res, err); err != nil {
		return "", fmt.Errorf("rotate agent token of connection %d: %w", id, err)
	}
	return token, nil
}

// SetRecording sets whether connection id's sessions are recorded, and with key events, from
// the next live session on; it returns the connection, or ErrNotFound. Keys without recording
// is ErrInvalid.
func (s *Store) SetRecording(ctx context.Context, id ConnectionID, record, keys bool) (Connection, error) {
	if keys && !record {
		return Connection{}, invalidField("recordKeys", "needs record")
	}
	res, err := s.db.ExecContext(ctx, `UPDATE connections SET record = ?, record_keys = ? WHERE id = ?`, record, keys, id)
	if err := expectOneRow(res, err); err != nil {
		return Connection{}, fmt.Errorf("set recording of connection %d: %w", id, err)
	}
	return s.Connection(ctx, id)
}

// ConnectionByAgentToken returns the connection an agent token belongs to; an unknown or
// malformed token gives ErrNotFound.
func (s *Store) ConnectionByAgentToken(ctx context.Context, token string) (Connection, error) {
	if !wellFormedToken(token) {
		return Connection{}, fmt.Errorf("agent token: %w", ErrNotFound)
	}
	c, err := scanConnection(s.db.QueryRowContext(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE agent_token_hash = ?`, hashToken(token)))
	if err != nil {
		return Connection{}, fmt.Errorf("agent token: %w", notFound(err))
	}
	return c, nil
}

// Connection returns the connection with the given id, or ErrNotFound.
func (s *Store) Connection(ctx context.Context, id ConnectionID) (Connection, error) {
	c, err := scanConnection(s.db.QueryRowContext(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE id = ?`, id))
	if err != nil {
		return Connection{}, fmt.Errorf("connection %d: %w", id, notFound(err))
	}
	return c, nil
}

// ConnectionByName returns the connection with the given name (matched regardless of ASCII
// case), or ErrNotFound.
func (s *Store) ConnectionByName(ctx context.Context, name string) (Connection, error) {
	if validateConnectionName(name) != nil {
		return Connection{}, fmt.Errorf("connection %q: %w", name, ErrNotFound)
	}
	c, err := scanConnection(s.db.QueryRowContext(ctx,
		`SELECT `+connectionColumns+` FROM connections WHERE name = ?`, name))
	if err != nil {
		return Connection{}, fmt.Errorf("connection %q: %w", name, notFound(err))
	}
	return c, nil
}

// Connections returns every connection, ordered by name.
func (s *Store) Connections(ctx context.Context) ([]Connection, error) {
	return s.queryConnections(ctx, `SELECT `+connectionColumns+` FROM connections ORDER BY name`)
}

// DeleteConnection removes connection id and every permission granted on it, or returns
// ErrNotFound.
func (s *Store) DeleteConnection(ctx context.Context, id ConnectionID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM connections WHERE id = ?`, id)
	if err := expectOneRow(res, err); err != nil {
		return fmt.Errorf("delete connection %d: %w", id, err)
	}
	return nil
}

// queryConnections runs a query selecting connectionColumns and collects the rows.
func (s *Store) queryConnections(ctx context.Context, query string, args ...any) ([]Connection, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	cs, err := collectRows(rows, scanConnection)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return cs, nil
}
