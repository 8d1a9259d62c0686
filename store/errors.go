package store

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// Errors callers branch on. Methods wrap them with %w and a message, so test with errors.Is.
var (
	// ErrNotFound means the user, connection, login session or token does not exist
	// (or has expired).
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a unique name (username, connection name) is already taken.
	ErrExists = errors.New("store: already exists")
	// ErrInvalid means an argument failed validation; the wrapping message names the field.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrBadCredentials means the username is unknown or the password is wrong; which one is
	// deliberately not told.
	ErrBadCredentials = errors.New("store: bad credentials")
)

// isConstraint reports whether err is an SQLite constraint violation with the given extended
// code, such as sqlite3.ErrConstraintUnique.
func isConstraint(err error, code sqlite3.ErrNoExtended) bool {
	var serr sqlite3.Error
	return errors.As(err, &serr) && serr.ExtendedCode == code
}
