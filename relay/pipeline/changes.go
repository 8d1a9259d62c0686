package pipeline

import (
	"slices"
	"time"
)

// changes is a peer stream's queue of the tiles its peer lacks, in the order they changed
// (as the stream noticed them; tiles noticed together in the order of the framebuffer), and
// the round in progress: the queued tiles whose sending completes an update of the peer to a
// point of the desktop's history, which a FRAME then marks.
//
// Each queued tile goes out once, at its newest version when its turn comes, so a change waits
// at most for one copy of every tile that changed before it: no region starves while another
// keeps changing. A quiet region's change (its tile still for quietSpan before) goes ahead of
// them all, into the round in progress: what someone types next to a playing video shows
// without waiting for the video's round. Each tile can do so at most once per quietSpan.
type changes struct {
	order  []int       // tile indices, oldest change first
	front  []int       // scratch of notice
	queued []bool      // queued[i]: tile i is in order
	at     []time.Time // at[i]: when tile i was queued

	active   bool      // a round is in progress
	round    int       // the first round entries of order belong to it
	roundSeq uint32    // the desktop's seq when the round began
	roundAt  time.Time // when the oldest change of the round was queued
}

// reset empties the queue for a desktop of n tiles.
func (c *changes) reset(n int) {
	c.order, c.queued, c.at = c.order[:0], make([]bool, n), make([]time.Time, n)
	c.active, c.round = false, 0
}

func (c *changes) len() int { return len(c.order) }

// notice queues every tile whose version is newer than the one the peer has, but those that
// skip (if not nil) marks: at the end, or, if that version is a quiet region's change, at the
// front and in the round in progress.
func (c *changes) notice(versions, have []uint64, quiet, skip []bool, now time.Time) {
	front := c.front[:0]
	for i, v := range versions {
		if v <= have[i] || c.queued[i] || (skip != nil && skip[i]) {
			continue
		}
		c.queued[i], c.at[i] = true, now
		if quiet[i] {
			front = append(front, i)
		} else {
			c.order = append(c.order, i)
		}
	}
	if len(front) > 0 {
		c.order = slices.Insert(c.order, 0, front...)
		if c.active {
			c.round += len(front)
		}
	}
	c.front = front[:0]
}

// startRound begins a round of everything queued, at the desktop's seq, unless one is in
// progress or nothing is queued.
func (c *changes) startRound(seq uint32) {
	if c.active || len(c.order) == 0 {
		return
	}
	c.active, c.round, c.roundSeq, c.roundAt = true, len(c.order), seq, c.at[c.order[0]]
}

// each calls f for every queued tile, oldest first, until f fails.
func (c *changes) each(f func(i int) error) error {
	for _, i := range c.order {
		if err := f(i); err != nil {
			return err
		}
	}
	return nil
}

// drop forgets the queued tiles that mask marks, keeping the order of the others.
func (c *changes) drop(mask []bool) { c.forget(func(i int) bool { return mask[i] }) }

// forgetSent drops the tiles the peer now holds at the newest version, keeping the order of
// the others.
func (c *changes) forgetSent(versions, have []uint64) {
	c.forget(func(i int) bool { return have[i] >= versions[i] })
}

// forget unqueues the tiles gone says are, keeping the order of the others and the round.
func (c *changes) forget(gone func(i int) bool) {
	kept, round := c.order[:0], 0
	for k, i := range c.order {
		if gone(i) {
			c.queued[i] = false
			continue
		}
		if k < c.round {
			round++
		}
		kept = append(kept, i)
	}
	c.order, c.round = kept, round
}

// endRound reports whether the round in progress is complete, with its seq and the time its
// oldest change was queued, and ends it.
func (c *changes) endRound() (done bool, seq uint32, at time.Time) {
	if !c.active || c.round > 0 {
		return false, 0, time.Time{}
	}
	c.active = false
	return true, c.roundSeq, c.roundAt
}
