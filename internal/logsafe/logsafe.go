// Package logsafe makes text that came from outside safe to log: control characters that a
// terminal would act on are escaped, and secrets that libraries print (ICE passwords, say) are
// redacted. It imports nothing of peerdesk's.
package logsafe

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Escape returns s with every control character (C0, DEL, C1) and every bidirectional
// override or isolate escaped as \xNN or \u{NNNN}, so that what a peer sent cannot move a
// terminal's cursor, change its colours or reorder what a reader sees. Other text is kept.
func Escape(s string) string {
	if !strings.ContainsFunc(s, unsafe) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unsafe(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u{%04x}`, r)
		}
	}
	return b.String()
}

// unsafe reports whether r must not reach a terminal or a log viewer as is.
func unsafe(r rune) bool {
	return unicode.IsControl(r) || r == unicode.ReplacementChar ||
		r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069 // bidi embeddings, overrides, isolates
}

// secret matches "pwd: value", "password=value", "remotePwd: \"value\"" and the like, with the
// value in group 2.
var secret = regexp.MustCompile(`(?i)((?:pwd|passwd|password|credential|secret)"?\s*[:=]\s*)("[^"]*"|\S+)`)

// Redact returns s with the values of password-like key/value pairs replaced by [redacted].
func Redact(s string) string {
	if !strings.ContainsAny(s, ":=") {
		return s
	}
	return secret.ReplaceAllString(s, "${1}[redacted]")
}
