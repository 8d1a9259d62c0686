package store

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/mattn/go-sqlite3"
)

// Limits on live-session fields.
const (
	maxLiveSessionIDLen = 64
	maxEndReasonLen     = 200
)

// validateLiveSessionID accepts 1-64 URL-safe characters: ASCII letters, digits, '-' and '_'.
func validateLiveSessionID(id string) error {
	if !urlSafe(id, maxLiveSessionIDLen) {
		return invalidField("id", "must be 1-%d characters of letters, digits, - _", maxLiveSessionIDLen)
	}
	return nil
}

// urlSafe reports whether id is 1 to maxLen ASCII letters, digits, '-' and '_'.
func urlSafe(id string, maxLen int) bool {
	ok := id != "" && len(id) <= maxLen
	for i := 0; ok && i < len(id); i++ {
		c := id[i]
		ok = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	return ok
}

// validateEndReason accepts valid UTF-8 of up to 200 bytes.
func validateEndReason(reason string) error {
	if !utf8.ValidString(reason) || len(reason) > maxEndReasonLen {
		return invalidField("reason", "must be valid UTF-8 of at most %d bytes", maxEndReasonLen)
	}
	return nil
}

// StartLiveSession records that live session id of connection conn started now, owned by user
// owner. The live state itself is the signaling server's; these rows are its history and what
// share links hang on. ErrInvalid for a bad id, ErrExists if id was used before, ErrNotFound if
// the connection or the user does not exist.
func (s *Store) StartLiveSession(ctx context.Context, id string, conn ConnectionID, owner UserID) error {
	if err := validateLiveSessionID(id); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx,
		`INSERT INTO live_sessions (id, connection_id, connection_name, owner_id, started_at, node)
		 SELECT ?, id, name, ?, ?, ? FROM connections WHERE id = ?`,
		id, owner, s.now().Unix(), s.node, conn)
	if err == nil {
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("start live session %s of connection %d: %w", id, conn, ErrNotFound)
		}
	}
	switch {
	case isConstraint(err, sqlite3.ErrConstraintPrimaryKey), isConstraint(err, sqlite3.ErrConstraintUnique):
		return fmt.Errorf("start live session %s: %w", id, ErrExists)
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		return fmt.Errorf("start live session %s of connection %d by user %d: %w", id, conn, owner, ErrNotFound)
	case err != nil:
		return fmt.Errorf("start live session %s: %w", id, err)
	}
	return nil
}

// EndLiveSession records that live session id ended now for reason; its share links stop
// working. Ending an ended or unknown session (say, deleted with its connection) is not an
// error and keeps the first end. ErrInvalid if reason is not UTF-8 or longer than 200 bytes.
func (s *Store) EndLiveSession(ctx context.Context, id string, reason string) error {
	if err := validateEndReason(reason); err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx,
		`UPDATE live_sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`,
		s.now().Unix(), reason, id); err != nil {
		return fmt.Errorf("end live session %s: %w", id, err)
	}
	return nil
}

// EndAllLiveSessions ends, for reason, every live session not ended yet — of its node only, for
// a store opened WithNode — and returns how many it ended. The server calls it at start: the
// sessions of a process that died are over.
func (s *Store) EndAllLiveSessions(ctx context.Context, reason string) (int, error) {
	if err := validateEndReason(reason); err != nil {
		return 0, err
	}
	res, err := s.db.ExecContext(ctx,
		`UPDATE live_sessions SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND (? = '' OR node = ?)`,
		s.now().Unix(), reason, s.node, s.node)
	if err != nil {
		return 0, fmt.Errorf("end all live sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("end all live sessions: %w", err)
	}
	return int(n), nil
}
