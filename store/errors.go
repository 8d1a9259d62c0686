package store

import (
	"errors"
	"fmt"
)

// Errors callers branch on. Methods wrap them with %w and a message, so test with errors.Is.
var (
	// ErrNotFound means the user, connection, login session, token, sharing profile, live
	// session or share link does not exist (or has expired, ended or been revoked).
	ErrNotFound = errors.New("store: not found")
	// ErrExists means a unique name (username, connection name, profile name within its
	// connection) or live-session id is already taken.
	ErrExists = errors.New("store: already exists")
	// ErrInvalid means an argument failed validation; the wrapping message names the field
	// (a *FieldError carries it separately).
	ErrInvalid = errors.New("store: invalid argument")
	// ErrBadCredentials means the username is unknown or the password is wrong; which one is
	// deliberately not told.
	ErrBadCredentials = errors.New("store: bad credentials")
)

// FieldError is the ErrInvalid of a validation that names the offending field, so an API can
// point at it. errors.Is(err, ErrInvalid) holds for it; errors.As gives the field.
type FieldError struct {
	// Field is the field as the API spells it: "name", "linkLifetime", "maxGuests", "id",
	// "reason".
	Field string
	// Problem says what a valid value looks like.
	Problem string
}

// Error reads "store: invalid argument: FIELD: PROBLEM".
func (e *FieldError) Error() string {
	return ErrInvalid.Error() + ": " + e.Field + ": " + e.Problem
}

// Unwrap makes a FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// invalidField returns a *FieldError for field with a formatted problem.
func invalidField(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}
