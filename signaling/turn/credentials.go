package turn

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // the TURN REST scheme (and coturn's use-auth-secret) is HMAC-SHA1
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"peerdesk/signaling/proto"
)

// Credential lifetimes.
const (
	// DefaultTTL is how long an issued credential is valid when no TTL is configured.
	DefaultTTL = 10 * time.Minute
	// DefaultMaxTTL is the longest lifetime the embedded server accepts (see Config.MaxTTL).
	DefaultMaxTTL = 24 * time.Hour
	// maxIdentity bounds the identity part of a username, and with it the username.
	maxIdentity = 128
)

// Credentials issues TURN REST-style credentials (draft-uberti-behave-turn-rest, coturn's
// use-auth-secret): username "EXPIRY:IDENTITY" with EXPIRY in unix seconds, password
// base64(HMAC-SHA1(secret, username)). It implements signaling.ICEProvider, both for the
// embedded server and for an external coturn sharing the secret.
type Credentials struct {
	secret []byte
	ttl    time.Duration
	urls   []string
	now    func() time.Time
}

// NewCredentials returns an issuer of credentials for the TURN URLs (turn:/turns:), valid
// for ttl (0 means DefaultTTL), signed with secret. now is the clock; nil means time.Now.
func NewCredentials(secret string, ttl time.Duration, urls []string, now func() time.Time) (*Credentials, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("%w: the shared secret must have at least 16 bytes", ErrInvalidConfig)
	}
	if ttl == 0 {
		ttl = DefaultTTL
	}
	if ttl < time.Minute {
		return nil, fmt.Errorf("%w: credential TTL %v is shorter than a minute", ErrInvalidConfig, ttl)
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%w: no TURN URL", ErrInvalidConfig)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
			return nil, fmt.Errorf("%w: %q is not a turn: or turns: URL", ErrInvalidConfig, u)
		}
	}
	if now == nil {
		now = time.Now
	}
	return &Credentials{secret: []byte(secret), ttl: ttl, urls: append([]string(nil), urls...), now: now}, nil
}

// TTL is the lifetime of the credentials issued.
func (c *Credentials) TTL() time.Duration { return c.ttl }

// ICEServers returns one ICE server with all the URLs and a fresh credential for identity
// (any ':' in it is replaced by '_', as the username uses ':' as its separator; it is cut to
// 128 bytes), and the time the credential expires.
func (c *Credentials) ICEServers(identity string) ([]proto.ICEServer, time.Time) {
	identity = strings.ReplaceAll(identity, ":", "_")
	if len(identity) > maxIdentity {
		identity = identity[:maxIdentity]
	}
	expires := c.now().Add(c.ttl).Truncate(time.Second)
	user := strconv.FormatInt(expires.Unix(), 10) + ":" + identity
	return []proto.ICEServer{{URLs: append([]string(nil), c.urls...), Username: user, Credential: Password(c.secret, user)}}, expires
}

// Password returns the REST password of username: base64(HMAC-SHA1(secret, username)).
func Password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// parseUsername splits a REST username into its expiry and identity, and checks the expiry
// against now: one expired more than grace ago is refused, and one that expires more than
// maxTTL after now (future-dated: a forged or misconfigured issuer) always.
func parseUsername(username string, now time.Time, maxTTL, grace time.Duration) (identity string, err error) {
	ts, identity, ok := strings.Cut(username, ":")
	if !ok || identity == "" || len(identity) > maxIdentity || strings.Contains(identity, ":") {
		return "", errMalformed
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return "", errMalformed
	}
	expires := time.Unix(sec, 0)
	if expires.Sub(now) > maxTTL {
		return "", errFutureDated
	}
	if !expires.Add(grace).After(now) {
		return "", errExpired
	}
	return identity, nil
}
