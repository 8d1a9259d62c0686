package pipeline

import (
	"image"
	"slices"
	"time"
)

// Video detection: every videoCheckEvery the pipeline looks at the tiles that moved (changed
// videoMinHits times since the last check, copies aside) and groups those within videoGap
// tiles of each other. A large enough cluster with some photographic content becomes the
// video region (video.go); the region ends when it stops moving or a larger cluster moves
// elsewhere (a player closed, a window moved).

// videoCluster is a group of moving tiles: its bounding box, how many moving tiles it holds
// and how many of those are photographic.
type videoCluster struct {
	box           image.Rectangle
	moving, photo int
}

// checkVideo, at most every videoCheckEvery, starts a video region where one is found, or
// ends the current one, and wakes the region's encoder after a change; p.mu is held.
func (p *Pipeline) checkVideo(now time.Time) {
	if v := p.video; v != nil && p.videoDirty {
		p.videoDirty = false
		select {
		case v.wake <- struct{}{}:
		default:
		}
	}
	if p.cfg.NoVideo || p.closed || now.Sub(p.videoChecked) < videoCheckEvery {
		return
	}
	p.videoChecked = now
	hot, photo := make([]bool, len(p.tiles)), make([]bool, len(p.tiles))
	for i, t := range p.tiles {
		hot[i] = t.hits >= videoMinHits
		photo[i] = hot[i] && t.photo.Load()
		t.hits = 0
	}
	watched := p.videoWatchers()
	if v := p.video; v != nil {
		inside, outside := 0, slices.Clone(hot)
		for i, in := range v.mask {
			if in && hot[i] {
				inside++
				outside[i] = false
			}
		}
		if float64(inside) < videoKeepFill*float64(countTrue(v.mask)) {
			p.videoQuiet++
		} else {
			p.videoQuiet = 0
		}
		if p.videoQuiet < videoQuietChecks && p.largestCluster(outside, photo).moving <= max(inside, videoMinTiles) && watched {
			return
		}
		p.endVideo() // a new region may start below, where the player moved (inside tiles too)
	}
	if !watched {
		return
	}
	c := p.largestCluster(hot, photo)
	if c.moving < videoMinTiles || float64(c.photo) < videoMinPhoto*float64(c.moving) {
		return
	}
	mask, n := p.tileMask(c.box)
	if float64(c.moving) < videoStartFill*float64(n) {
		return
	}
	p.startVideo(c.box, mask)
}

// largestCluster groups the tiles hot marks into clusters of tiles at most videoGap tiles
// apart and returns the one with the most; photo marks the photographic ones. p.mu is held.
func (p *Pipeline) largestCluster(hot, photo []bool) videoCluster {
	seen := make([]bool, len(hot))
	var best videoCluster
	var stack []int
	for start, h := range hot {
		if !h || seen[start] {
			continue
		}
		var c videoCluster
		seen[start], stack = true, append(stack[:0], start)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			c.box = c.box.Union(p.tiles[i].rect)
			c.moving++
			if photo[i] {
				c.photo++
			}
			col, row := i%p.cols, i/p.cols
			for y := max(row-videoGap, 0); y <= min(row+videoGap, p.rows-1); y++ {
				for x := max(col-videoGap, 0); x <= min(col+videoGap, p.cols-1); x++ {
					if j := y*p.cols + x; hot[j] && !seen[j] {
						seen[j] = true
						stack = append(stack, j)
					}
				}
			}
		}
		if c.moving > best.moving {
			best = c
		}
	}
	return best
}
