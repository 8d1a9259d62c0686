package store

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: the OWASP minimum (19 MiB, 2 passes, 1 lane), modest enough for a small
// server yet slow enough to make offline guessing expensive.
const (
	argonMemoryKiB = 19 * 1024
	argonTime      = 2
	argonThreads   = 1
	argonSaltLen   = 16
	argonKeyLen    = 32
)

// Bounds on parameters read back from a stored hash, so a damaged row cannot make a login
// allocate gigabytes or spin for minutes.
const (
	maxArgonMemoryKiB = 256 * 1024
	maxArgonTime      = 16
	maxArgonThreads   = 16
)

// errMalformedHash reports a stored password hash this package cannot read.
var errMalformedHash = errors.New("malformed password hash")

// b64 is the PHC string encoding: standard base64 alphabet without padding.
var b64 = base64.RawStdEncoding

// passwordHasher hashes and verifies passwords with argon2id, letting at most one hash per CPU
// run at a time: each takes ~19 MiB, and a burst of logins must not exhaust memory.
type passwordHasher struct {
	slots chan struct{}
	// dummy is a well-formed hash with the current parameters that matches no password;
	// verifying against it costs the same as a real check, hiding whether a user exists.
	dummy string
}

func newPasswordHasher() *passwordHasher {
	return &passwordHasher{
		slots: make(chan struct{}, runtime.GOMAXPROCS(0)),
		dummy: encodePHC(argonMemoryKiB, argonTime, argonThreads, make([]byte, argonSaltLen), make([]byte, argonKeyLen)),
	}
}

// acquire waits for a hashing slot or for ctx to end; call the returned release when done.
func (h *passwordHasher) acquire(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err // select would pick at random between a free slot and a done ctx
	}
	select {
	case h.slots <- struct{}{}:
		return func() { <-h.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hash returns the PHC string of password with a fresh random salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func (h *passwordHasher) hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	defer release()
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemoryKiB, argonThreads, argonKeyLen)
	return encodePHC(argonMemoryKiB, argonTime, argonThreads, salt, key), nil
}

// verify reports whether password matches the PHC string encoded, comparing in constant time.
func (h *passwordHasher) verify(ctx context.Context, password, encoded string) (bool, error) {
	p, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	defer release()
	key := argon2.IDKey([]byte(password), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// phc holds the parts of a decoded argon2id PHC string.
type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func encodePHC(memory, time uint32, threads uint8, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, memory, time, threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decodePHC(s string) (phc, error) {
	var p phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, errMalformedHash
	}
	var threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.time, &threads); err != nil || n != 3 {
		return p, errMalformedHash
	}
	if p.memory == 0 || p.memory > maxArgonMemoryKiB || p.time == 0 || p.time > maxArgonTime ||
		threads == 0 || threads > maxArgonThreads {
		return p, errMalformedHash
	}
	p.threads = uint8(threads)
	var err error
	if p.salt, err = b64.DecodeString(parts[4]); err != nil || len(p.salt) < 8 || len(p.salt) > 64 {
		return p, errMalformedHash
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil || len(p.key) < 16 || len(p.key) > 64 {
		return p, errMalformedHash
	}
	return p, nil
}
