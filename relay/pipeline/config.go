package pipeline

import (
	"fmt"
	"time"

	"github.com/rs/zerolog"
)

// Pipeline defaults.
const (
	defaultTileSize           = 64
	minTileSize               = 16
	maxTileSize               = 64 // the largest tile whose worst JPEG still fits one display message
	defaultJPEGQuality        = 80
	defaultLighterJPEGQuality = 30
	defaultHighWater          = 1 << 20
	defaultQueueDelay         = 50 * time.Millisecond
	maxQueueDelay             = 10 * time.Second
)

// Config configures a Pipeline. Zero values mean the defaults.
type Config struct {
	// Logger receives the pipeline's and its peer streams' logs.
	Logger zerolog.Logger
	// TileSize is the side of the square tiles the desktop is cut into, 16 to 64 pixels
	// (default 64, so that any encoded tile fits one 64 KiB display message).
	TileSize int
	// JPEGQuality is the quality of photographic tiles, 1 to 100 (default 80).
	JPEGQuality int
	// LighterJPEGQuality is the quality of photographic tiles for the peers whose link carries
	// less than the desktop produces, 1 to 100 (default 30): one lighter rendition of each tile
	// version, shared by all of them.
	LighterJPEGQuality int
	// HighWater is the most bytes a peer's transport may buffer before its stream stops
	// queueing and waits for the transport to drain (default 1 MiB). Below it each peer's
	// high-water mark follows its measured delivery rate (QueueDelay).
	HighWater uint64
	// QueueDelay is how long what a peer's transport buffers may take to deliver at the rate
	// measured for that peer, on top of its round-trip time (default 50 ms): the peer's
	// high-water mark is its rate times this, within 16 KiB (or HighWater if lower) and HighWater.
	QueueDelay time.Duration
	// PNGOnly sends flat tiles as paletted PNG even to peers whose link is the limit, where
	// a lossless WebP is smaller: for benchmarks that compare the two.
	PNGOnly bool
	// StdJPEG encodes photographic tiles with Go's image/jpeg instead of TurboJPEG (six times
	// slower): the old path, for benchmarks that compare the two.
	StdJPEG bool
	// NoVideo sends video regions as tiles to every peer: the old path, for benchmarks that
	// compare the two, and a switch for hosts that would rather spend no CPU on video.
	NoVideo bool
	// VideoKbps is the bit rate of video regions in kbit/s per megapixel of region, 100 to
	// 20000 (default 2200: 2 Mbit/s for 720p).
	VideoKbps int
	// OnDemand, if set, is told whether any peer stream is open: true when the first one
	// opens, false when the last one closes, one call at a time and never under the
	// pipeline's lock, so it may block briefly (the agent tells its source to rest).
	OnDemand func(watched bool)
}

// withDefaults returns c with its zero fields set to the defaults.
func (c Config) withDefaults() Config {
	if c.TileSize == 0 {
		c.TileSize = defaultTileSize
	}
	if c.JPEGQuality == 0 {
		c.JPEGQuality = defaultJPEGQuality
	}
	if c.LighterJPEGQuality == 0 {
		c.LighterJPEGQuality = defaultLighterJPEGQuality
	}
	if c.HighWater == 0 {
		c.HighWater = defaultHighWater
	}
	if c.QueueDelay == 0 {
		c.QueueDelay = defaultQueueDelay
	}
	if c.VideoKbps == 0 {
		c.VideoKbps = defaultVideoKbps
	}
	return c
}

func (c Config) validate() error {
	if c.TileSize < minTileSize || c.TileSize > maxTileSize {
		return fmt.Errorf("%w: tile size %d outside %d..%d", ErrConfig, c.TileSize, minTileSize, maxTileSize)
	}
	if c.JPEGQuality < 1 || c.JPEGQuality > 100 {
		return fmt.Errorf("%w: JPEG quality %d outside 1..100", ErrConfig, c.JPEGQuality)
	}
	if c.LighterJPEGQuality < 1 || c.LighterJPEGQuality > 100 {
		return fmt.Errorf("%w: lighter JPEG quality %d outside 1..100", ErrConfig, c.LighterJPEGQuality)
	}
	if c.VideoKbps < 100 || c.VideoKbps > maxVideoKbps {
		return fmt.Errorf("%w: video bit rate %d kbit/s per megapixel outside 100..%d", ErrConfig, c.VideoKbps, maxVideoKbps)
	}
	if c.QueueDelay < 0 || c.QueueDelay > maxQueueDelay {
		return fmt.Errorf("%w: queue delay %v outside 0..%v", ErrConfig, c.QueueDelay, maxQueueDelay)
	}
	return nil
}
