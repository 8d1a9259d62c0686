package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/pion/webrtc/v4"

	"peerdesk/signaling"
)

// recordingFlags are serve's session-recording flags.
type recordingFlags struct {
	dir    string
	off    bool
	days   int
	maxGiB int
	engine *webrtc.SettingEngine                     // tests: the recorder's ICE on loopback
	create func(path string) (io.WriteCloser, error) // tests: a disk that stalls
	queue  int                                       // tests: the recorder's queue, bytes
}

func (f *recordingFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.dir, "recordings", "", "directory for session recordings (default: recordings under -data)")
	fs.BoolVar(&f.off, "no-recordings", false, "record no sessions (connections' \"Record sessions\" has no effect); recordings already kept are still served and expire")
	fs.IntVar(&f.days, "recording-days", 30, "days a recording is kept after its session ended")
	fs.IntVar(&f.maxGiB, "recording-max-gib", 10, "GiB all recordings may take; the oldest go first")
}

func (f *recordingFlags) validate() error {
	if f.days < 1 || f.days > 36500 {
		return fmt.Errorf("%w: -recording-days %d outside 1-36500", errUsage, f.days)
	}
	if f.maxGiB < 1 || f.maxGiB > 1<<20 {
		return fmt.Errorf("%w: -recording-max-gib %d outside 1-1048576", errUsage, f.maxGiB)
	}
	return nil
}

// config returns the server's recording configuration, recordings under data by default.
func (f *recordingFlags) config(data string) signaling.RecordingConfig {
	dir := f.dir
	if dir == "" {
		dir = filepath.Join(data, "recordings")
	}
	return signaling.RecordingConfig{
		Dir:           dir,
		Disabled:      f.off,
		MaxAge:        time.Duration(f.days) * 24 * time.Hour,
		MaxBytes:      int64(f.maxGiB) << 30,
		QueueBytes:    f.queue,
		SettingEngine: f.engine,
		Create:        f.create,
	}
}
