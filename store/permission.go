package store

import (
	"context"
	"fmt"

	"github.com/mattn/go-sqlite3"
)

// Grant lets user uid use connection cid. Granting twice is not an error. ErrNotFound if the
// user or the connection does not exist.
func (s *Store) Grant(ctx context.Context, uid UserID, cid ConnectionID) error {
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO permissions (user_id, connection_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, uid, cid)
	if isConstraint(err, sqlite3.ErrConstraintForeignKey) {
		return fmt.Errorf("grant connection %d to user %d: %w", cid, uid, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("grant connection %d to user %d: %w", cid, uid, err)
	}
	return nil
}

// Revoke takes back user uid's permission to use connection cid. Revoking a permission that
// was never granted is not an error.
func (s *Store) Revoke(ctx context.Context, uid UserID, cid ConnectionID) error {
	if _, err := s.db.ExecContext(ctx,
		`DELETE FROM permissions WHERE user_id = ? AND connection_id = ?`, uid, cid); err != nil {
		return fmt.Errorf("revoke connection %d from user %d: %w", cid, uid, err)
	}
	return nil
}

// ConnectionsFor returns, ordered by name, the connections u may use: all of them for an
// admin, the granted ones otherwise. It trusts u.Admin as given.
func (s *Store) ConnectionsFor(ctx context.Context, u User) ([]Connection, error) {
	if u.Admin {
		return s.Connections(ctx)
	}
	return s.queryConnections(ctx,
		`SELECT `+connectionColumns+` FROM connections
		 JOIN permissions ON permissions.connection_id = connections.id
		 WHERE permissions.user_id = ? ORDER BY connections.name`, u.ID)
}

// CanUse reports whether u may use connection id: always for an admin, otherwise only when
// granted. ErrNotFound if the connection does not exist. It trusts u.Admin as given.
func (s *Store) CanUse(ctx context.Context, u User, id ConnectionID) (bool, error) {
	var granted bool
	err := s.db.QueryRowContext(ctx,
		`SELECT EXISTS (SELECT 1 FROM permissions WHERE user_id = ? AND connection_id = connections.id)
		 FROM connections WHERE id = ?`, u.ID, id).Scan(&granted)
	if err != nil {
		return false, fmt.Errorf("connection %d: %w", id, notFound(err))
	}
	return u.Admin || granted, nil
}
