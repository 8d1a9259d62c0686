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
