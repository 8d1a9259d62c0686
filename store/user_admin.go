package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrLastAdmin means a change would leave no administrator: demoting or deleting the last one.
var ErrLastAdmin = errors.New("store: the last administrator")

// SetAdmin makes user id an administrator or not and returns the user. Demoting the last
// administrator gives ErrLastAdmin (checked in the same statement, so two admins demoting each
// other at once cannot both succeed); ErrNotFound if the user does not exist.
func (s *Store) SetAdmin(ctx context.Context, id UserID, admin bool) (User, error) {
	res, err := s.usersGuarded(ctx,
		`UPDATE users SET admin = ? WHERE id = ? AND (? OR (SELECT COUNT(*) FROM users WHERE admin AND id <> ?) > 0)`,
		admin, id, admin, id)
	if err := s.lastAdminOr(ctx, id, expectOneRow(res, err)); err != nil {
		return User{}, fmt.Errorf("set admin of user %d: %w", id, err)
	}
	return s.User(ctx, id)
}

// usersGuarded runs a change of users whose statement checks that an administrator remains. On
// SQLite writes are serial; on PostgreSQL the statement runs under a lock of the users table
// that such changes take in turn (reads go on), or two could each see the other as the one
// that remains.
func (s *Store) usersGuarded(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if !s.postgres {
		return s.db.ExecContext(ctx, query, args...)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, `LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// lastAdminOr explains a change of user id that touched no row: ErrNotFound if the user does
// not exist, ErrLastAdmin if it does (the statement's guard refused it). Other errors pass.
func (s *Store) lastAdminOr(ctx context.Context, id UserID, err error) error {
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	if _, uerr := s.User(ctx, id); uerr != nil {
		return uerr
	}
	return ErrLastAdmin
}

// UserGrants returns the connections each user was granted (admins may use every connection
// whatever their grants), in increasing order; users with none are absent.
func (s *Store) UserGrants(ctx context.Context) (map[UserID][]ConnectionID, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT user_id, connection_id FROM permissions ORDER BY user_id, connection_id`)
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	type grant struct {
		user UserID
		conn ConnectionID
	}
	gs, err := collectRows(rows, func(r rowScanner) (grant, error) {
		var g grant
		return g, r.Scan(&g.user, &g.conn)
	})
	if err != nil {
		return nil, fmt.Errorf("list grants: %w", err)
	}
	out := make(map[UserID][]ConnectionID)
	for _, g := range gs {
		out[g.user] = append(out[g.user], g.conn)
	}
	return out, nil
}
