package pionlog

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestLevels checks that pion's chatty levels go one level down and that the scope is kept.
func TestLevels(t *testing.T) {
	var buf bytes.Buffer
	l := Factory{Log: zerolog.New(&buf).Level(zerolog.DebugLevel)}.NewLogger("ice")
	l.Debugf("debug %d", 1) // pion debug → zerolog trace: dropped at debug level
	l.Infof("info %d", 2)   // pion info → zerolog debug
	l.Warn("warn")
	got := buf.String()
	for _, want := range []string{`"pion":"ice"`, `"level":"debug","pion":"ice","message":"info 2"`, `"level":"warn"`} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %s", got, want)
		}
	}
	if strings.Contains(got, "debug 1") {
		t.Errorf("pion debug logged at zerolog debug: %q", got)
	}
}

// TestSafeMessages: what pion quotes of peers is escaped, passwords it prints are redacted,
// and its routine set-up warnings go to debug.
func TestSafeMessages(t *testing.T) {
	var buf bytes.Buffer
	l := Factory{Log: zerolog.New(&buf).Level(zerolog.TraceLevel)}.NewLogger("ice")
	l.Warnf("Failed to parse candidate %s", "candidate:1 \x1b[2J\x1b]0;owned\x07")
	l.Debugf("Started agent: isControlling? %t, remoteUfrag: %q, remotePwd: %q", true, "uf", "topsecretpassword")
	l.Warn("Failed to ping without candidate pairs. Connection is not possible yet.")
	got := buf.String()
	if strings.Contains(got, "\x1b") || strings.Contains(got, `\u001b`) || !strings.Contains(got, `\\x1b[2J`) {
		t.Errorf("escape sequence not escaped: %s", got)
	}
	if strings.Contains(got, "topsecretpassword") || !strings.Contains(got, "[redacted]") {
		t.Errorf("ICE password logged: %s", got)
	}
	if !strings.Contains(got, `"level":"debug","pion":"ice","message":"Failed to ping`) {
		t.Errorf("routine warning not at debug: %s", got)
	}
}
