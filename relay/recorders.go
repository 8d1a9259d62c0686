package relay

import (
	"peerdesk/relay/wire"
	"peerdesk/signaling/proto"
)

// The server's recorder (docs/PROTOCOL.md, 5) is a read-only peer left out of presence that
// also gets, on its control channel, every input the relay applied: the recording says who did
// what. Key and clipboard input only if its join asked for them (the connection's option).

// recorder reports whether p is the server's recorder.
func (p *peer) recorder() bool { return p.identity.Role == proto.RoleRecorder }

// updateRecordersLocked refreshes the list of recorder peers that recordInput reads without a
// lock; a.mu is held.
func (a *Agent) updateRecordersLocked() {
	var rs []*peer
	for _, p := range a.peers {
		if p.recorder() {
			rs = append(rs, p)
		}
	}
	a.recorders.Store(&rs)
}

// recordInput tells every recorder that from's input message b (of type typ) was applied.
func (a *Agent) recordInput(from *peer, typ byte, b []byte) {
	rs := a.recorders.Load()
	if rs == nil || len(*rs) == 0 {
		return
	}
	private := typ == wire.MsgKey || typ == wire.MsgClipboard
	var msg []byte
	for _, r := range *rs {
		if private && !r.recordKeys {
			continue
		}
		ctl := r.ctl.Load()
		if ctl == nil {
			continue
		}
		if msg == nil {
			msg = wire.Control{Type: wire.ControlInput, Peer: from.id, Name: from.identity.Name, Input: b}.Encode()
		}
		if !ctl.input(msg) {
			a.inputUnrecorded.Add(1)
		}
	}
}
