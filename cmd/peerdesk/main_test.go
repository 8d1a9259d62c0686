package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"peerdesk/internal/testpg"
)

// TestMain fails the package if any test leaves a goroutine behind: servers, agents, peer
// connections and the browser driver must all stop when closed. It stops the PostgreSQL
// server of the tests that used one.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		testpg.StopShared()
		os.Exit(code)
	}))
}

// postgresDatabase returns a fresh database's URL on the package's PostgreSQL server.
func postgresDatabase(t testing.TB) string { return testpg.SharedDatabase(t) }

// TestLoggerIsSafe: the process logger escapes control characters in messages and values,
// writes milliseconds, and has no colour on a writer that is not a terminal.
func TestLoggerIsSafe(t *testing.T) {
	var buf bytes.Buffer
	log, err := newLogger(&buf, "info")
	if err != nil {
		t.Fatal(err)
	}
	log.Info().Str("name", "eve\x1b[31m").Msg("joined \x1b]0;pwned\x07")
	got := buf.String()
	if strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, `eve\x1b[31m`) || !strings.Contains(got, `joined \x1b]0;pwned\x07`) {
		t.Fatalf("log line %q: control characters not escaped (or colour on a buffer)", got)
	}
	if ms := regexp.MustCompile(`^\d\d:\d\d:\d\d\.(\d\d\d) `).FindStringSubmatch(got); ms == nil {
		t.Fatalf("log line %q does not start with a time to the millisecond", got)
	}
}
