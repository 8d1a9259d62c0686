package client

// Stats are a session's counters since Join.
type Stats struct {
	Frames        uint64 // FRAME messages applied
	LastSeq       uint32 // seq of the last FRAME applied
	Messages      uint64 // display messages received
	Bytes         uint64 // display bytes received
	DecodeErrors  uint64 // display messages that could not be decoded or applied
	Cursors       uint64 // CURSOR messages applied
	Copies        uint64 // COPY messages applied
	VideoFrames   uint64 // video frames decoded (docs/PROTOCOL.md, 3.2 VIDEO)
	EventsDropped uint64 // events dropped because Events() was not read in time
	// PeerConnections counts the peer connections made: one per host-available, and one
	// after ICE restarts failed to bring a connection back.
	PeerConnections uint64
	// ICERestarts counts the ICE restart offers sent on an existing peer connection.
	ICERestarts uint64
	// LinkLimited says the relay found this peer's link to be the limit: it carries less than
	// the desktop produces, so the peer gets fewer (and maybe lighter) updates. LinkRate is the
	// delivery rate the relay measured then, in bytes per second; LinkLighter says
	// photographic tiles come at the lighter rendition (docs/PROTOCOL.md, 3.1 link).
	LinkLimited bool
	LinkRate    uint64
	LinkLighter bool
}
