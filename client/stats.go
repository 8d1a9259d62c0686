package client

// Stats are a session's counters since Join.
type Stats struct {
	Frames        uint64 // FRAME messages applied
	LastSeq       uint32 // seq of the last FRAME applied
	Messages      uint64 // display messages received
	Bytes         uint64 // display bytes received
	DecodeErrors  uint64 // display messages that could not be decoded or applied
	Cursors       uint64 // CURSOR messages applied
	EventsDropped uint64 // events dropped because Events() was not read in time
	// PeerConnections counts the peer connections made: one per host-available, and one
	// after ICE restarts failed to bring a connection back.
	PeerConnections uint64
	// ICERestarts counts the ICE restart offers sent on an existing peer connection.
	ICERestarts uint64
}
