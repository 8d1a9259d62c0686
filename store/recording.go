package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// RecordingID identifies a recording.
type RecordingID int64

// Recording is the index entry of one live session's recording file.
type Recording struct {
	// ID identifies it; Session is the live session recorded, Connection its connection (which
	// may have been deleted since).
	ID         RecordingID
	Session    string
	Connection ConnectionID
	// File is the file's name in the recordings directory: never a path.
	File      string
	StartedAt time.Time
	// EndedAt is zero while the recording goes on (or until the next server start completes
	// the row of one cut short by a crash).
	EndedAt time.Time
	// Size is the file's size as last indexed: while it is recorded, at most 10 s old.
	Size int64
}

// maxRecordingFileLen bounds a recording's file name.
const maxRecordingFileLen = 128

// validRecordingFile accepts a plain file name: URL-safe characters and dots, no path, no
// leading dot.
func validRecordingFile(name string) bool {
	base, ext, ok := strings.Cut(name, ".")
	return ok && urlSafe(base, maxRecordingFileLen) && urlSafe(ext, 16)
}

const recordingColumns = `id, session_id, connection_id, file, started_at, ended_at, size`

func scanRecording(r rowScanner) (Recording, error) {
	var rec Recording
	var conn sql.NullInt64
	var started int64
	var ended sql.NullInt64
	if err := r.Scan(&rec.ID, &rec.Session, &conn, &rec.File, &started, &ended, &rec.Size); err != nil {
		return Recording{}, err
	}
	rec.Connection = ConnectionID(conn.Int64)
	rec.StartedAt = time.UnixMilli(started).UTC()
	if ended.Valid {
		rec.EndedAt = time.UnixMilli(ended.Int64).UTC()
	}
	return rec, nil
}

// CreateRecording indexes the recording of live session rec.Session, started at
// rec.StartedAt in file rec.File, and returns it with its id. ErrInvalid for a bad session id
// or file name, ErrExists if the session or the file already has one.
func (s *Store) CreateRecording(ctx context.Context, rec Recording) (Recording, error) {
	if err := validateLiveSessionID(rec.Session); err != nil {
		return Recording{}, err
	}
	if !validRecordingFile(rec.File) {
		return Recording{}, invalidField("file", "must be a plain file name")
	}
	var id int64
	err := s.db.QueryRowContext(ctx,
		`INSERT INTO recordings (session_id, connection_id, file, started_at, node) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		rec.Session, rec.Connection, rec.File, rec.StartedAt.UnixMilli(), s.node).Scan(&id)
	if isConstraint(err, sqlite3.ErrConstraintUnique) {
		return Recording{}, fmt.Errorf("create recording of session %s: %w", rec.Session, ErrExists)
	}
	if err != nil {
		return Recording{}, fmt.Errorf("create recording: %w", err)
	}
	rec.ID, rec.EndedAt, rec.Size = RecordingID(id), time.Time{}, 0
	rec.StartedAt = time.UnixMilli(rec.StartedAt.UnixMilli()).UTC()
	return rec, nil
}

// UpdateRecording records recording id's size and, unless ended is zero, its end. ErrNotFound
// if it does not exist.
func (s *Store) UpdateRecording(ctx context.Context, id RecordingID, size int64, ended time.Time) error {
	var end any
	if !ended.IsZero() {
		end = ended.UnixMilli()
	}
	res, err := s.db.ExecContext(ctx, `UPDATE recordings SET size = ?, ended_at = COALESCE(?, ended_at) WHERE id = ?`, size, end, id)
	if err := expectOneRow(res, err); err != nil {
		return fmt.Errorf("update recording %d: %w", id, err)
	}
	return nil
}

// Recording returns recording id, or ErrNotFound.
func (s *Store) Recording(ctx context.Context, id RecordingID) (Recording, error) {
	rec, err := scanRecording(s.db.QueryRowContext(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE id = ?`, id))
	if err != nil {
		return Recording{}, fmt.Errorf("recording %d: %w", id, notFound(err))
	}
	return rec, nil
}

// Recordings returns every recording — its node's only, for a store opened WithNode: each node
// completes and expires the files it wrote — oldest first.
func (s *Store) Recordings(ctx context.Context) ([]Recording, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+recordingColumns+` FROM recordings WHERE ? = '' OR node = ? ORDER BY started_at, id`, s.node, s.node)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	recs, err := collectRows(rows, scanRecording)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	return recs, nil
}

// DeleteRecording removes recording id from the index (the caller removes its file), or
// returns ErrNotFound.
func (s *Store) DeleteRecording(ctx context.Context, id RecordingID) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM recordings WHERE id = ?`, id)
	if err := expectOneRow(res, err); err != nil {
		return fmt.Errorf("delete recording %d: %w", id, err)
	}
	return nil
}
