package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"fmt"
	"math/big"
	"time"

	"github.com/mattn/go-sqlite3"
)

// LinkID identifies a share link.
type LinkID int64

// ShareLink lets whoever holds its key join one live session under one sharing profile. Its key
// is shown once, at creation; the store keeps only the key's SHA-256.
type ShareLink struct {
	ID        LinkID
	ProfileID ProfileID
	SessionID string
	// CreatedBy is the user who made the link; 0 once that user is deleted.
	CreatedBy UserID
	// CreatedAt is when the link was made, in UTC, to the second.
	CreatedAt time.Time
	// ExpiresAt is when the link stops working; zero for a link that lives until its session
	// ends.
	ExpiresAt time.Time
	// RevokedAt is when the link was revoked; zero while it is not.
	RevokedAt time.Time
	// Passcode is the passcode whoever joins through the link must enter, as CreateShareLink
	// made it: only in its result, the store keeping a salted hash. Protected says the link
	// has one.
	Passcode  string
	Protected bool
	// SingleUse says the link stops working once someone joined through it (ClaimShareLink),
	// at UsedAt; zero while unused.
	SingleUse bool
	UsedAt    time.Time

	passcodeHash string // binary; "" for none
}

// newPasscode returns a random passcode of 6 decimal digits.
func newPasscode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("generate passcode: %w", err)
	}
	return fmt.Sprintf("%06d", n), nil
}

// passcodeHash is what a link keeps of its passcode: SHA-256 of the link key's hash and the
// passcode, so that equal passcodes of two links differ.
func passcodeHash(key, passcode string) string {
	sum := sha256.Sum256(append(hashToken(key), passcode...))
	return string(sum[:])
}

// PasscodeMatches reports, in constant time, whether passcode is the passcode of the link that
// key opens; always true for a link without one.
func (l ShareLink) PasscodeMatches(key, passcode string) bool {
	if !l.Protected {
		return true
	}
	return subtle.ConstantTimeCompare([]byte(passcodeHash(key, passcode)), []byte(l.passcodeHash)) == 1
}

// linkColumns are the columns a linkRow reads, in order.
const linkColumns = `share_links.id, share_links.profile_id, share_links.session_id, share_links.created_by,
	share_links.created_at, share_links.expires_at, share_links.revoked_at, share_links.passcode_hash,
	share_links.used_at, (SELECT single_use FROM sharing_profiles WHERE sharing_profiles.id = share_links.profile_id)`

// linkRow receives linkColumns; its dest goes to Scan, possibly before other columns.
type linkRow struct {
	l                          ShareLink
	createdBy                  sql.NullInt64
	created                    int64
	expires, revokedAt, usedAt sql.NullInt64
	singleUse                  sql.NullBool
	passcodeHash               []byte
}

func (r *linkRow) dest() []any {
	return []any{&r.l.ID, &r.l.ProfileID, &r.l.SessionID, &r.createdBy, &r.created, &r.expires, &r.revokedAt,
		&r.passcodeHash, &r.usedAt, &r.singleUse}
}

func (r *linkRow) link() ShareLink {
	l := r.l
	l.CreatedBy = UserID(r.createdBy.Int64)
	l.CreatedAt = unixTime(r.created)
	l.ExpiresAt = optionalTime(r.expires)
	l.RevokedAt = optionalTime(r.revokedAt)
	l.UsedAt = optionalTime(r.usedAt)
	l.passcodeHash = string(r.passcodeHash)
	l.Protected, l.SingleUse = l.passcodeHash != "", r.singleUse.Bool
	return l
}

// optionalTime turns a nullable unix-seconds column into a UTC time, zero for NULL.
func optionalTime(sec sql.NullInt64) time.Time {
	if !sec.Valid {
		return time.Time{}
	}
	return unixTime(sec.Int64)
}

func scanLink(r rowScanner) (ShareLink, error) {
	var row linkRow
	if err := r.Scan(row.dest()...); err != nil {
		return ShareLink{}, err
	}
	return row.link(), nil
}

// CreateShareLink makes a share link to live session session under profile, created by user
// by, and returns it with its key: 32 random bytes as unpadded base64url (43 characters), shown
// only now. The link expires LinkLifetime after now when the profile has one. ErrNotFound if
// the session is unknown or ended, or the profile or the user does not exist; ErrInvalid (field
// "profile") if the profile belongs to another connection than the session.
func (s *Store) CreateShareLink(ctx context.Context, session string, profile ProfileID, by UserID) (ShareLink, string, error) {
	key, hash, err := newToken()
	if err != nil {
		return ShareLink{}, "", fmt.Errorf("create share link: %w", err)
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return ShareLink{}, "", fmt.Errorf("create share link: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	var sessionConn ConnectionID
	if err := tx.QueryRowContext(ctx,
		`SELECT connection_id FROM live_sessions WHERE id = ? AND ended_at IS NULL`, session,
	).Scan(&sessionConn); err != nil {
		return ShareLink{}, "", fmt.Errorf("create share link: live session %s: %w", session, notFound(err))
	}
	p, err := scanProfile(tx.QueryRowContext(ctx,
		`SELECT `+profileColumns+` FROM sharing_profiles WHERE id = ?`, profile))
	if err != nil {
		return ShareLink{}, "", fmt.Errorf("create share link: profile %d: %w", profile, notFound(err))
	}
	if p.ConnectionID != sessionConn {
		return ShareLink{}, "", invalidField("profile", "belongs to another connection than the session")
	}
	var expires sql.NullInt64
	if p.LinkLifetime > 0 {
		expires = sql.NullInt64{Int64: now.Add(p.LinkLifetime).Unix(), Valid: true}
	}
	var passcode string
	var pcHash []byte // NULL for none
	if p.Passcode {
		if passcode, err = newPasscode(); err != nil {
			return ShareLink{}, "", err
		}
		pcHash = []byte(passcodeHash(key, passcode))
	}
	l, err := scanLink(tx.QueryRowContext(ctx,
		`INSERT INTO share_links (key_hash, profile_id, session_id, created_by, created_at, expires_at, passcode_hash)
		 VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+linkColumns,
		hash, profile, session, by, now.Unix(), expires, pcHash))
	if isConstraint(err, sqlite3.ErrConstraintForeignKey) {
		return ShareLink{}, "", fmt.Errorf("create share link by user %d: %w", by, ErrNotFound)
	}
	if err != nil {
		return ShareLink{}, "", fmt.Errorf("create share link: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return ShareLink{}, "", fmt.Errorf("create share link: %w", err)
	}
	l.Passcode = passcode
	return l, key, nil
}

// ShareLinkByKey returns the usable link a key opens and its profile as it is now. Unknown,
// revoked, used (single use) and expired (at ExpiresAt exactly) links and links of ended sessions all give the
// same ErrNotFound from one query, so neither the answer nor its timing tells them apart; a
// malformed key gives it too, without touching the database.
func (s *Store) ShareLinkByKey(ctx context.Context, key string) (ShareLink, SharingProfile, error) {
	if !wellFormedToken(key) {
		return ShareLink{}, SharingProfile{}, fmt.Errorf("share link: %w", ErrNotFound)
	}
	var l linkRow
	var p profileRow
	err := s.db.QueryRowContext(ctx,
		`SELECT `+linkColumns+`, `+profileColumns+` FROM share_links
		 JOIN sharing_profiles ON sharing_profiles.id = share_links.profile_id
		 JOIN live_sessions ON live_sessions.id = share_links.session_id
		 WHERE share_links.key_hash = ? AND share_links.revoked_at IS NULL AND share_links.used_at IS NULL
		   AND (share_links.expires_at IS NULL OR share_links.expires_at > ?)
		   AND live_sessions.ended_at IS NULL`,
		hashToken(key), s.now().Unix(),
	).Scan(append(l.dest(), p.dest()...)...)
	if err != nil {
		return ShareLink{}, SharingProfile{}, fmt.Errorf("share link: %w", notFound(err))
	}
	return l.link(), p.profile(), nil
}

// ShareLink returns link id whatever its state (revoked, expired, of an ended session), or
// ErrNotFound once it is deleted.
func (s *Store) ShareLink(ctx context.Context, id LinkID) (ShareLink, error) {
	l, err := scanLink(s.db.QueryRowContext(ctx, `SELECT `+linkColumns+` FROM share_links WHERE id = ?`, id))
	if err != nil {
		return ShareLink{}, fmt.Errorf("share link %d: %w", id, notFound(err))
	}
	return l, nil
}

// ShareLinks returns every link made in live session session, whatever its state, in creation
// order; none, not an error, for an unknown session.
func (s *Store) ShareLinks(ctx context.Context, session string) ([]ShareLink, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+linkColumns+` FROM share_links WHERE session_id = ? ORDER BY created_at, id`, session)
	if err != nil {
		return nil, fmt.Errorf("share links of live session %s: %w", session, err)
	}
	ls, err := collectRows(rows, scanLink)
	if err != nil {
		return nil, fmt.Errorf("share links of live session %s: %w", session, err)
	}
	return ls, nil
}

// ClaimShareLink records that someone joins through single-use link id, which then stops
// working; ErrNotFound if it was already used (or revoked, or does not exist), so of two joins
// at once exactly one gets in. A link that is not single use is not touched.
func (s *Store) ClaimShareLink(ctx context.Context, id LinkID) error {
	res, err := s.db.ExecContext(ctx,
		`UPDATE share_links SET used_at = ? WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL
		   AND (SELECT single_use FROM sharing_profiles WHERE sharing_profiles.id = share_links.profile_id)`,
		s.now().Unix(), id)
	if err := expectOneRow(res, err); err != nil {
		return fmt.Errorf("claim share link %d: %w", id, err)
	}
	return nil
}

// RevokeShareLink makes link id stop working and returns it. Revoking it again is not an error
// and keeps the first RevokedAt. ErrNotFound if the link does not exist.
func (s *Store) RevokeShareLink(ctx context.Context, id LinkID) (ShareLink, error) {
	l, err := scanLink(s.db.QueryRowContext(ctx,
		`UPDATE share_links SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ? RETURNING `+linkColumns,
		s.now().Unix(), id))
	if err != nil {
		return ShareLink{}, fmt.Errorf("revoke share link %d: %w", id, notFound(err))
	}
	return l, nil
}
