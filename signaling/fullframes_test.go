package signaling

import (
	"testing"
	"time"

	"peerdesk/relay/wire"
)

// TestFullFramesDue: the recorder asks for a full frame only once none is coming, keyframeEvery
// passed since the last one and since its last ask, and the changes since weigh half of it.
func TestFullFramesDue(t *testing.T) {
	var f fullFrames
	t0 := time.Unix(1000, 0)
	size, tiles, frame := wire.EncodeSize(10, 10), make([]byte, 1000), wire.EncodeFrame(1)
	tiles[0] = wire.MsgTiles
	f.saw(size, t0)
	f.saw(tiles, t0)
	if f.due(t0.Add(time.Minute)) {
		t.Fatal("asked while a full frame is still coming")
	}
	f.saw(frame, t0) // the full frame: about 1 KB
	later := t0.Add(keyframeEvery)
	f.saw(tiles[:400], later)
	if f.due(later) {
		t.Fatal("asked with changes under half a full frame")
	}
	f.saw(tiles[:400], later)
	if !f.due(later) {
		t.Fatal("not asked with changes over half a full frame, 5 s on")
	}
	if f.due(later.Add(time.Second)) {
		t.Fatal("asked again a second after asking (the relay may have ignored it)")
	}
	if !f.due(later.Add(keyframeEvery)) {
		t.Fatal("not asked again once the ask was old")
	}
	f.saw(size, later.Add(keyframeEvery)) // the relay's answer begins: the changes count anew
	f.saw(frame, later.Add(keyframeEvery))
	if f.due(later.Add(3 * keyframeEvery)) {
		t.Fatal("asked with nothing changed since the last full frame")
	}
}
