package store

import (
	"context"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// ProfileID identifies a sharing profile.
type ProfileID int64

// SharingProfile is a named recipe for share links of one connection: what a guest who opens
// such a link may do, and how long and how widely the link may be used.
type SharingProfile struct {
	ID           ProfileID
	ConnectionID ConnectionID
	// Name is unique within its connection regardless of ASCII case.
	Name string
	// ReadOnly makes guests of its links view-only: their input is never applied.
	ReadOnly bool
	// LinkLifetime is how long a link lives after its creation; 0 means until its session
	// ends. Otherwise 1 minute to 30 days, in whole seconds.
	LinkLifetime time.Duration
	// MaxGuests bounds the participants on one link at the same time; 0 means unlimited.
	// Otherwise 1 to 1000.
	MaxGuests int
	// Passcode gives each link of the profile a passcode, shown with its URL, that whoever
	// joins through the link must enter.
	Passcode bool
	// SingleUse makes each link of the profile stop working once someone joined through it.
	SingleUse bool
	// Admit makes guests of its links wait until an owner or member of the session lets them in.
	Admit bool
	// AskControl makes full-access participants of its links viewers until the owner gives
	// them control (the relay enforces it).
	AskControl bool
	// CreatedAt is when the profile was created, in UTC, to the second.
	CreatedAt time.Time
}

// Limits on sharing-profile fields.
const (
	maxProfileNameLen = 100
	minLinkLifetime   = time.Minute
	maxLinkLifetime   = 30 * 24 * time.Hour
	maxGuestsLimit    = 1000
)

// validateProfile checks the fields a caller sets; the error is a *FieldError naming the first
// bad one.
func validateProfile(p SharingProfile) error {
	if err := validateProfileName(p.Name); err != nil {
		return err
	}
	if l := p.LinkLifetime; l != 0 && (l < minLinkLifetime || l > maxLinkLifetime || l%time.Second != 0) {
		return invalidField("linkLifetime", "must be 0 (until the session ends) or %v to %v in whole seconds",
			minLinkLifetime, maxLinkLifetime)
	}
	if p.MaxGuests < 0 || p.MaxGuests > maxGuestsLimit {
		return invalidField("maxGuests", "must be 0 (unlimited) or 1 to %d", maxGuestsLimit)
	}
	return nil
}

// validateProfileName accepts what validName accepts, up to 100 characters.
func validateProfileName(name string) error {
	if !validName(name, maxProfileNameLen) {
		return invalidField("name", "must be 1-%d printable characters without leading or trailing spaces",
			maxProfileNameLen)
	}
	return nil
}

// profileColumns are the columns a profileRow reads, in order.
const profileColumns = `sharing_profiles.id, sharing_profiles.connection_id, sharing_profiles.name,
	sharing_profiles.read_only, sharing_profiles.link_lifetime, sharing_profiles.max_guests,
	sharing_profiles.passcode, sharing_profiles.single_use, sharing_profiles.admit, sharing_profiles.ask_control, sharing_profiles.created_at`

// profileRow receives profileColumns; its dest goes to Scan, possibly after other columns.
type profileRow struct {
	p                 SharingProfile
	lifetime, created int64
}

func (r *profileRow) dest() []any {
	return []any{&r.p.ID, &r.p.ConnectionID, &r.p.Name, &r.p.ReadOnly, &r.lifetime, &r.p.MaxGuests,
		&r.p.Passcode, &r.p.SingleUse, &r.p.Admit, &r.p.AskControl, &r.created}
}

func (r *profileRow) profile() SharingProfile {
	p := r.p
	p.LinkLifetime = time.Duration(r.lifetime) * time.Second
	p.CreatedAt = unixTime(r.created)
	return p
}

func scanProfile(r rowScanner) (SharingProfile, error) {
	var row profileRow
	if err := r.Scan(row.dest()...); err != nil {
		return SharingProfile{}, err
	}
	return row.profile(), nil
}

// CreateProfile adds sharing profile p to connection p.ConnectionID and returns it with its ID
// and CreatedAt set (the ones given are ignored). ErrInvalid (a *FieldError) for a bad field,
// ErrExists if the connection has a profile of that name, ErrNotFound if the connection does
// not exist.
func (s *Store) CreateProfile(ctx context.Context, p SharingProfile) (SharingProfile, error) {
	if err := validateProfile(p); err != nil {
		return SharingProfile{}, err
	}
	got, err := scanProfile(s.db.QueryRowContext(ctx,
		`INSERT INTO sharing_profiles (connection_id, name, read_only, link_lifetime, max_guests, passcode, single_use, admit, ask_control, created_at)
		 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+profileColumns,
		p.ConnectionID, p.Name, p.ReadOnly, int64(p.LinkLifetime/time.Second), p.MaxGuests, p.Passcode, p.SingleUse, p.Admit, p.AskControl, s.now().Unix()))
	if err != nil {
		return SharingProfile{}, fmt.Errorf("create profile %q for connection %d: %w", p.Name, p.ConnectionID, profileWriteError(err))
	}
	return got, nil
}

// UpdateProfile replaces the name and options of profile p.ID and returns it as stored;
// p.ConnectionID and p.CreatedAt are ignored. Links already made keep their expiry; their
// guests get the new ReadOnly, MaxGuests, SingleUse, Admit and AskControl from the next join on; a link's passcode
// (or none) stays as it was made. Errors as CreateProfile,
// ErrNotFound if the profile does not exist.
func (s *Store) UpdateProfile(ctx context.Context, p SharingProfile) (SharingProfile, error) {
	if err := validateProfile(p); err != nil {
		return SharingProfile{}, err
	}
	got, err := scanProfile(s.db.QueryRowContext(ctx,
		`UPDATE sharing_profiles SET name = ?, read_only = ?, link_lifetime = ?, max_guests = ?, passcode = ?, single_use = ?, admit = ?, ask_control = ?
		 WHERE id = ? RETURNING `+profileColumns,
		p.Name, p.ReadOnly, int64(p.LinkLifetime/time.Second), p.MaxGuests, p.Passcode, p.SingleUse, p.Admit, p.AskControl, p.ID))
	if err != nil {
		return SharingProfile{}, fmt.Errorf("update profile %d: %w", p.ID, profileWriteError(err))
	}
	return got, nil
}

// CloneProfile copies the options of profile id into a new profile of the same connection
// named name, and returns the copy. ErrInvalid for a bad name, ErrExists if the name is taken,
// ErrNotFound if profile id does not exist.
func (s *Store) CloneProfile(ctx context.Context, id ProfileID, name string) (SharingProfile, error) {
	if err := validateProfileName(name); err != nil {
		return SharingProfile{}, err
	}
	got, err := scanProfile(s.db.QueryRowContext(ctx,
		`INSERT INTO sharing_profiles (connection_id, name, read_only, link_lifetime, max_guests, passcode, single_use, admit, ask_control, created_at)
		 SELECT connection_id, ?, read_only, link_lifetime, max_guests, passcode, single_use, admit, ask_control, ? FROM sharing_profiles WHERE id = ?
		 RETURNING `+profileColumns,
		name, s.now().Unix(), id))
	if err != nil {
		return SharingProfile{}, fmt.Errorf("clone profile %d as %q: %w", id, name, profileWriteError(err))
	}
	return got, nil
}

// profileWriteError maps the errors of a statement writing one sharing profile: a taken name
// to ErrExists; no row (the profile) or a missing connection to ErrNotFound.
func profileWriteError(err error) error {
	switch {
	case isConstraint(err, sqlite3.ErrConstraintUnique):
		return ErrExists
	case isConstraint(err, sqlite3.ErrConstraintForeignKey):
		return ErrNotFound
	}
	return notFound(err)
}

// DeleteProfile removes profile id and, with it, every share link made from it. It returns the
// ids of those links, in creation order, so their live guests can be disconnected.
// ErrNotFound if the profile does not exist.
func (s *Store) DeleteProfile(ctx context.Context, id ProfileID) ([]LinkID, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete profile %d: %w", id, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if s.postgres {
		// Links being made from it wait (their foreign key needs a share lock of the row), so
		// none is deleted with it without being listed. SQLite's writes are serial anyway.
		if _, err := tx.ExecContext(ctx, `SELECT 1 FROM sharing_profiles WHERE id = ? FOR UPDATE`, id); err != nil {
			return nil, fmt.Errorf("delete profile %d: %w", id, err)
		}
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM share_links WHERE profile_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("delete profile %d: %w", id, err)
	}
	ids, err := collectRows(rows, func(r rowScanner) (LinkID, error) {
		var l LinkID
		return l, r.Scan(&l)
	})
	if err != nil {
		return nil, fmt.Errorf("delete profile %d: %w", id, err)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM sharing_profiles WHERE id = ?`, id)
	if err := expectOneRow(res, err); err != nil {
		return nil, fmt.Errorf("delete profile %d: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("delete profile %d: %w", id, err)
	}
	return ids, nil
}

// Profile returns sharing profile id, or ErrNotFound.
func (s *Store) Profile(ctx context.Context, id ProfileID) (SharingProfile, error) {
	p, err := scanProfile(s.db.QueryRowContext(ctx,
		`SELECT `+profileColumns+` FROM sharing_profiles WHERE id = ?`, id))
	if err != nil {
		return SharingProfile{}, fmt.Errorf("profile %d: %w", id, notFound(err))
	}
	return p, nil
}

// Profiles returns the sharing profiles of connection conn ordered by name (regardless of
// ASCII case); none, not an error, for an unknown connection.
func (s *Store) Profiles(ctx context.Context, conn ConnectionID) ([]SharingProfile, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+profileColumns+` FROM sharing_profiles WHERE connection_id = ? ORDER BY name, id`, conn)
	if err != nil {
		return nil, fmt.Errorf("profiles of connection %d: %w", conn, err)
	}
	ps, err := collectRows(rows, scanProfile)
	if err != nil {
		return nil, fmt.Errorf("profiles of connection %d: %w", conn, err)
	}
	return ps, nil
}
