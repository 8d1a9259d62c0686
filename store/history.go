package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/mattn/go-sqlite3"
)

// ParticipantRecordID identifies one participant row of the session history.
type ParticipantRecordID int64

// ParticipantRecord is one participant connection (one WebSocket) of a live session, as the
// history keeps it: written when it joins, completed when it leaves.
type ParticipantRecord struct {
	// ID is assigned by RecordJoin.
	ID ParticipantRecordID
	// SessionID is the live session joined.
	SessionID string
	// Peer is the signaling server's peer id: 1-64 letters, digits, '-' and '_'.
	Peer string
	// Name is the username, or "Anonymous" for a guest without login: 1-64 printable
	// characters.
	Name string
	// UserID is the logged-in user; 0 for an anonymous guest, and 0 once the user is deleted.
	UserID UserID
	// Role is "owner", "member" or "guest".
	Role string
	// ReadOnly says the participant could only watch.
	ReadOnly bool
	// LinkID is the share link joined through; 0 if through the connection. The link may
	// have been deleted since.
	LinkID LinkID
	// ProfileName is the name of the link's sharing profile at join time; "" without a link.
	ProfileName string
	// Address is the client's IP address as the server saw it; at most 64 bytes.
	Address string
	// JoinedAt is when the participant joined, in UTC, to the second; RecordJoin uses the
	// store's clock when it is zero.
	JoinedAt time.Time
	// LeftAt is when it left; zero while it is on (or was when the server stopped abruptly
	// and has not restarted yet).
	LeftAt time.Time
}

// HistorySession is one live session, ended or not, with every participant it had.
type HistorySession struct {
	ID string
	// ConnectionID is the connection's id, 0 once it is deleted; ConnectionName its name when
	// the session started.
	ConnectionID   ConnectionID
	ConnectionName string
	// OwnerName is the owner's username; "" once the user is deleted.
	OwnerName string
	// StartedAt and EndedAt are in UTC, to the second; EndedAt is zero while the session is
	// live.
	StartedAt, EndedAt time.Time
	// EndReason says why the session ended; "" while it is live.
	EndReason string
	// Recording is the session's recording, 0 if it has none (or it was deleted).
	Recording RecordingID
	// Participants are ordered by join time.
	Participants []ParticipantRecord
}

// HistoryQuery selects a page of the history: sessions newest first.
type HistoryQuery struct {
	// Offset is how many sessions to skip; at least 0.
	Offset int
	// Limit is how many sessions to return at most: 1 to 500; 0 means DefaultHistoryLimit.
	Limit int
}

// Limits of the history.
const (
	// DefaultHistoryLimit is the page size of a HistoryQuery with Limit 0.
	DefaultHistoryLimit = 50
	// MaxHistoryLimit is the largest page a HistoryQuery may ask for.
	MaxHistoryLimit = 500

	maxPeerIDLen   = 64
	maxAddressLen  = 64
	maxRecordedLen = 64 // participant names: usernames and "Anonymous"
)

// validateParticipant checks the fields of a record a caller sets; the error is a
// *FieldError naming the first bad one.
func validateParticipant(p ParticipantRecord) error {
	switch {
	case !urlSafe(p.SessionID, maxLiveSessionIDLen):
		return invalidField("session", "must be a live-session id")
	case !urlSafe(p.Peer, maxPeerIDLen):
		return invalidField("peer", "must be 1-%d characters of letters, digits, - _", maxPeerIDLen)
	case !validName(p.Name, maxRecordedLen):
		return invalidField("name", "must be 1-%d printable characters", maxRecordedLen)
	case p.Role != "owner" && p.Role != "member" && p.Role != "guest":
		return invalidField("role", "must be owner, member or guest")
	case p.UserID < 0:
		return invalidField("user", "must be 0 (anonymous) or a user id")
	case p.LinkID < 0:
		return invalidField("link", "must be 0 (no link) or a link id")
	case p.ProfileName != "" && !validName(p.ProfileName, maxProfileNameLen):
		return invalidField("profile", "must be empty or 1-%d printable characters", maxProfileNameLen)
	case p.Address != "" && !validName(p.Address, maxAddressLen):
		return invalidField("address", "must be empty or 1-%d printable characters", maxAddressLen)
	}
	return nil
}

// nullable turns 0 and "" into SQL NULL.
func nullable[T UserID | LinkID | string](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// RecordJoin writes the join of a participant of live session p.SessionID and returns the
// new row's id, for RecordLeave. ErrInvalid (a *FieldError) for a bad field; ErrNotFound if
// the session or the user does not exist.
func (s *Store) RecordJoin(ctx context.Context, p ParticipantRecord) (ParticipantRecordID, error) {
	if err := validateParticipant(p); err != nil {
		return 0, err
	}
	joined := p.JoinedAt
	if joined.IsZero() {
		joined = s.now()
	}
	var id ParticipantRecordID
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO participants (session_id, peer, name, user_id, role, read_only, link_id, profile_name, address, joined_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		p.SessionID, p.Peer, p.Name, nullable(p.UserID), p.Role, p.ReadOnly, nullable(p.LinkID),
		nullable(p.ProfileName), p.Address, joined.Unix(),
	).Scan(&id)
	if isConstraint(err, sqlite3.ErrConstraintForeignKey) {
		return 0, fmt.Errorf("record join to live session %s of user %d: %w", p.SessionID, p.UserID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("record join to live session %s: %w", p.SessionID, err)
	}
	return id, nil
}

// RecordLeave writes that participant id left at at (not before it joined). Recording it
// again is not an error and keeps the first LeftAt. ErrNotFound for an unknown id.
func (s *Store) RecordLeave(ctx context.Context, id ParticipantRecordID, at time.Time) error {
	err := expectOneRow(s.db.ExecContext(ctx,
		`UPDATE participants SET left_at = COALESCE(left_at, CASE WHEN joined_at > ? THEN joined_at ELSE ? END) WHERE id = ?`,
		at.Unix(), at.Unix(), id))
	if err != nil {
		return fmt.Errorf("record leave of participant %d: %w", id, err)
	}
	return nil
}

// EndOpenParticipants writes that every participant not yet left — of its node's sessions
// only, for a store opened WithNode — left at at (not before it joined), and returns how many.
// The server calls it at start, with EndAllLiveSessions: the participants of a process that
// died are gone.
func (s *Store) EndOpenParticipants(ctx context.Context, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx,
		`UPDATE participants SET left_at = CASE WHEN joined_at > ? THEN joined_at ELSE ? END
		 WHERE left_at IS NULL AND (? = '' OR session_id IN (SELECT id FROM live_sessions WHERE node = ?))`,
		at.Unix(), at.Unix(), s.node, s.node)
	if err != nil {
		return 0, fmt.Errorf("end open participants: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("end open participants: %w", err)
	}
	return int(n), nil
}

// History returns a page of live sessions, newest first, each with its participants, and the
// number of sessions in all. ErrInvalid (a *FieldError "offset" or "limit") for a query out
// of bounds.
func (s *Store) History(ctx context.Context, q HistoryQuery) ([]HistorySession, int, error) {
	if q.Offset < 0 {
		return nil, 0, invalidField("offset", "must be 0 or more")
	}
	if q.Limit < 0 || q.Limit > MaxHistoryLimit {
		return nil, 0, invalidField("limit", "must be 1 to %d", MaxHistoryLimit)
	}
	if q.Limit == 0 {
		q.Limit = DefaultHistoryLimit
	}
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM live_sessions`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	var page []HistorySession
	err := s.eachHistorySession(ctx, q.Limit, q.Offset, func(h HistorySession) error {
		page = append(page, h)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("history: %w", err)
	}
	return page, total, nil
}

// EachHistorySession calls fn with every live session, newest first, each with its
// participants, from one consistent read of the database; it stops at fn's first error and
// returns it. For an export: fn should not block for long, since the read stays open.
func (s *Store) EachHistorySession(ctx context.Context, fn func(HistorySession) error) error {
	if err := s.eachHistorySession(ctx, math.MaxInt, 0, fn); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// eachHistorySession calls fn with limit sessions (math.MaxInt: all) after offset, newest first, from
// one query.
func (s *Store) eachHistorySession(ctx context.Context, limit, offset int, fn func(HistorySession) error) error {
	rows, err := s.db.QueryContext(ctx, `
		SELECT ls.id, COALESCE(ls.connection_id, 0), ls.connection_name, COALESCE(users.username, ''), ls.started_at,
		       ls.ended_at, COALESCE(ls.end_reason, ''), COALESCE(rec.id, 0),
		       p.id, p.peer, p.name, p.user_id, p.role, p.read_only, p.link_id, p.profile_name, p.address,
		       p.joined_at, p.left_at
		FROM (SELECT rowid AS seq, id, connection_id, connection_name, owner_id, started_at, ended_at, end_reason
		      FROM live_sessions ORDER BY started_at DESC, rowid DESC LIMIT ? OFFSET ?) AS ls
		LEFT JOIN users ON users.id = ls.owner_id
		LEFT JOIN recordings AS rec ON rec.session_id = ls.id
		LEFT JOIN participants AS p ON p.session_id = ls.id
		ORDER BY ls.started_at DESC, ls.seq DESC, p.joined_at, p.id`, limit, offset)
	if err != nil {
		return err
	}
	defer rows.Close()
	var cur *HistorySession
	for rows.Next() {
		var h HistorySession
		var started int64
		var ended sql.NullInt64
		var p participantRow
		if err := rows.Scan(append([]any{&h.ID, &h.ConnectionID, &h.ConnectionName, &h.OwnerName, &started,
			&ended, &h.EndReason, &h.Recording}, p.dest()...)...); err != nil {
			return err
		}
		if cur == nil || cur.ID != h.ID {
			if cur != nil {
				if err := fn(*cur); err != nil {
					return err
				}
			}
			h.StartedAt, h.EndedAt = unixTime(started), optionalTime(ended)
			cur = &h
		}
		if p.id.Valid {
			cur.Participants = append(cur.Participants, p.record(cur.ID))
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if cur != nil {
		return fn(*cur)
	}
	return nil
}

// participantRow receives the participant columns of a history row, all NULL for a session
// without participants.
type participantRow struct {
	id, user, link, joined, left sql.NullInt64
	peer, name, role, address    sql.NullString
	profile                      sql.NullString
	readOnly                     sql.NullBool
}

func (r *participantRow) dest() []any {
	return []any{&r.id, &r.peer, &r.name, &r.user, &r.role, &r.readOnly, &r.link, &r.profile, &r.address,
		&r.joined, &r.left}
}

func (r *participantRow) record(session string) ParticipantRecord {
	return ParticipantRecord{
		ID:          ParticipantRecordID(r.id.Int64),
		SessionID:   session,
		Peer:        r.peer.String,
		Name:        r.name.String,
		UserID:      UserID(r.user.Int64),
		Role:        r.role.String,
		ReadOnly:    r.readOnly.Bool,
		LinkID:      LinkID(r.link.Int64),
		ProfileName: r.profile.String,
		Address:     r.address.String,
		JoinedAt:    unixTime(r.joined.Int64),
		LeftAt:      optionalTime(r.left),
	}
}
