package pipeline

import (
	"slices"
	"testing"
	"time"
)

// checkQueue fails unless c's order holds each queued tile exactly once.
func checkQueue(t *testing.T, c *changes) {
	t.Helper()
	seen := make([]bool, len(c.queued))
	for _, i := range c.order {
		if seen[i] || !c.queued[i] {
			t.Fatalf("order %v: tile %d twice or not marked queued", c.order, i)
		}
		seen[i] = true
	}
	if !slices.Equal(seen, c.queued) {
		t.Fatalf("order %v, queued %v", c.order, c.queued)
	}
}

// TestChangesOrder: changes queue oldest first, a quiet region's change goes to the front and
// into the round in progress, sent tiles leave, and the round ends when its tiles are sent.
func TestChangesOrder(t *testing.T) {
	var c changes
	c.reset(6)
	now := time.Now()
	have := make([]uint64, 6)
	versions := []uint64{1, 1, 0, 0, 0, 0}
	quiet := make([]bool, 6)
	c.notice(versions, have, quiet, nil, now)
	c.startRound(7)
	if !slices.Equal(c.order, []int{0, 1}) || c.round != 2 {
		t.Fatalf("order %v round %d, want [0 1] and 2", c.order, c.round)
	}
	versions[3], versions[4] = 1, 1 // a busy change, then quiet ones
	c.notice(versions, have, quiet, nil, now.Add(time.Millisecond))
	versions[2], versions[5], quiet[2], quiet[5] = 1, 1, true, true
	for range 3 { // noticing again changes nothing, and reuses its scratch
		c.notice(versions, have, quiet, nil, now.Add(2*time.Millisecond))
	}
	checkQueue(t, &c)
	if !slices.Equal(c.order, []int{2, 5, 0, 1, 3, 4}) || c.round != 4 {
		t.Fatalf("order %v round %d, want [2 5 0 1 3 4] and 4", c.order, c.round)
	}
	have[2], have[0], have[3] = 1, 1, 1
	c.forgetSent(versions, have)
	checkQueue(t, &c)
	if !slices.Equal(c.order, []int{5, 1, 4}) || c.round != 2 {
		t.Fatalf("order %v round %d, want [5 1 4] and 2", c.order, c.round)
	}
	if done, _, _ := c.endRound(); done {
		t.Fatal("the round ended with two of its tiles unsent")
	}
	have[5], have[1] = 1, 1
	c.forgetSent(versions, have)
	done, seq, at := c.endRound()
	if !done || seq != 7 || !at.Equal(now) || !slices.Equal(c.order, []int{4}) {
		t.Fatalf("endRound %v %d %v, order %v; want the round of seq 7 done, tile 4 left", done, seq, at, c.order)
	}
	c.startRound(9)
	if c.round != 1 || c.roundSeq != 9 {
		t.Fatalf("next round %d tiles at seq %d", c.round, c.roundSeq)
	}
}

// TestChangesQuietAfterQuiet: quiet changes noticed one after the other, after a large batch
// of them, each land at the front once and the rest of the queue stays as it was.
func TestChangesQuietAfterQuiet(t *testing.T) {
	var c changes
	const n = 20
	c.reset(n)
	now := time.Now()
	have, versions, quiet := make([]uint64, n), make([]uint64, n), make([]bool, n)
	for i := range 10 { // a large batch: the root window's colour, say
		versions[i], quiet[i] = 1, true
	}
	c.notice(versions, have, quiet, nil, now)
	copy(have, versions)
	c.forgetSent(versions, have)
	versions[10], versions[11] = 1, 1
	c.notice(versions, have, quiet, nil, now)
	for _, i := range []int{12, 13, 14} {
		versions[i], quiet[i] = 1, true
		c.notice(versions, have, quiet, nil, now)
		checkQueue(t, &c)
	}
	if want := []int{14, 13, 12, 10, 11}; !slices.Equal(c.order, want) {
		t.Fatalf("order %v, want %v", c.order, want)
	}
}
