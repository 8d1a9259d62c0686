package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Several signaling nodes on one PostgreSQL database (issue 13): each live session is run by
// one node, and each connection with a live session or a connected agent has a home node,
// where its agent, its session and every peer socket meet. A Store opened WithNode writes its
// node into the live sessions it starts and, at start, ends only its own.

// WithNode makes the Store the store of cluster node node: StartLiveSession records the node,
// and EndAllLiveSessions and EndOpenParticipants end only that node's sessions and
// participants. Without it (a single server) they end every one.
func WithNode(node string) Option {
	return func(s *Store) { s.node = node }
}

// Node returns the node given WithNode, or "".
func (s *Store) Node() string { return s.node }

// ClaimHome makes node the home of connection conn unless another node is, and returns the
// home node: node itself, or the node that was home already.
func (s *Store) ClaimHome(ctx context.Context, conn ConnectionID, node string) (string, error) {
	// One statement: a release between an insert and a select would leave no home to return.
	var home string
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO connection_homes (connection_id, node, since) SELECT id, ?, ? FROM connections WHERE id = ?
		 ON CONFLICT (connection_id) DO UPDATE SET node = connection_homes.node RETURNING node`,
		node, s.now().Unix(), conn).Scan(&home)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("claim home of connection %d: %w", conn, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("claim home of connection %d: %w", conn, err)
	}
	return home, nil
}

// NodeAlive reports whether a process serves as node: on PostgreSQL, whether node's claim
// (ClaimServer's lock on its name) is held — the database frees it the moment the process
// dies, however it died. It reads pg_locks rather than trying the lock, so that a node
// starting again at that moment is not refused. On SQLite it cannot tell and reports false.
func (s *Store) NodeAlive(ctx context.Context, node string) (bool, error) {
	if !s.postgres {
		return false, nil
	}
	// A bigint advisory lock shows its key's high and low halves as classid and objid, with
	// objsubid 1.
	var held bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(?, 0))`, "peerdesk node "+node).Scan(&held)
	if err != nil {
		return false, fmt.Errorf("node %s alive: %w", node, err)
	}
	return held, nil
}

// ReleaseHome ends node's being home to connection conn, if it is.
func (s *Store) ReleaseHome(ctx context.Context, conn ConnectionID, node string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM connection_homes WHERE connection_id = ? AND node = ?`, conn, node); err != nil {
		return fmt.Errorf("release home of connection %d: %w", conn, err)
	}
	return nil
}

// Homes returns the connections node is home to.
func (s *Store) Homes(ctx context.Context, node string) ([]ConnectionID, error) {
	return column[ConnectionID](ctx, s, "homes of node "+node, `SELECT connection_id FROM connection_homes WHERE node = ? ORDER BY connection_id`, node)
}

// LiveSessionNode returns the node running live session id and whether it is still live;
// ErrNotFound for an unknown session.
func (s *Store) LiveSessionNode(ctx context.Context, id string) (node string, live bool, err error) {
	var ended sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT node, ended_at FROM live_sessions WHERE id = ?`, id).Scan(&node, &ended)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("live session %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", false, fmt.Errorf("live session %s: %w", id, err)
	}
	return node, !ended.Valid, nil
}

// NodeLiveSessions returns the ids of node's live sessions.
func (s *Store) NodeLiveSessions(ctx context.Context, node string) ([]string, error) {
	return column[string](ctx, s, "live sessions of node "+node, `SELECT id FROM live_sessions WHERE node = ? AND ended_at IS NULL ORDER BY id`, node)
}

// column runs query and returns its one column (what names it in errors).
func column[T any](ctx context.Context, s *Store, what, query string, args ...any) ([]T, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// NodesInUse returns the nodes that run a live session or are home to a connection.
func (s *Store) NodesInUse(ctx context.Context) ([]string, error) {
	return column[string](ctx, s, "nodes in use",
		`SELECT node FROM live_sessions WHERE ended_at IS NULL AND node <> '' UNION SELECT node FROM connection_homes ORDER BY 1`)
}

// EndNode ends, for reason, what node left behind when it failed: its live sessions (their
// share links stop working), their open participants and its homes. It returns how many
// sessions it ended. Any node may call it for a node that stopped answering; it is idempotent.
func (s *Store) EndNode(ctx context.Context, node, reason string) (int, error) {
	if err := validateEndReason(reason); err != nil {
		return 0, err
	}
	if node == "" {
		return 0, fmt.Errorf("%w: end node: empty node", ErrInvalid)
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := s.now().Unix()
		if _, err := tx.ExecContext(ctx,
			`UPDATE participants SET left_at = CASE WHEN joined_at > ? THEN joined_at ELSE ? END
			 WHERE left_at IS NULL AND session_id IN (SELECT id FROM live_sessions WHERE node = ? AND ended_at IS NULL)`,
			now, now, node); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE live_sessions SET ended_at = ?, end_reason = ? WHERE node = ? AND ended_at IS NULL`,
			now, reason, node)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM connection_homes WHERE node = ?`, node)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("end node %s: %w", node, err)
	}
	return int(n), nil
}

// inTx runs fn in a transaction, committed if fn returns nil and rolled back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
