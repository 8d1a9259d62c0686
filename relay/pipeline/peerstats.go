package pipeline

// PeerStats counts what a peer stream sent.
type PeerStats struct {
	Frames          uint64 // FRAME messages sent
	Messages        uint64 // display messages sent, of every type
	Bytes           uint64 // bytes of those messages
	TilesSent       uint64 // tile records sent
	LighterTiles    uint64 // tile records sent at the lighter rendition
	Refined         uint64 // lighter tiles sent again at full quality once the link allowed
	Copies          uint64 // COPY messages sent in place of tiles
	VideoFrames     uint64 // video frames sent
	VideoSkipped    uint64 // video frames left out: layers the peer skipped, or lost
	VideoLost       uint64 // times the peer fell so far behind the video that it waited for a keyframe
	Stalls          uint64 // times the stream stopped because the transport was above its high water
	Behind          uint64 // times the stream waited for the peer to apply a window's worth (Consumed)
	Reports         bool   // the peer reports the display bytes it applied
	Unapplied       uint64 // bytes sent that the peer, if it reports, has not applied yet
	SkippedVersions uint64 // tile versions the peer never received because newer ones replaced them
	Buffered        uint64 // bytes the transport holds for the peer now
	HighWater       uint64 // the peer's high-water mark now
	Link            Link   // what the stream measured of the peer's link
}

// Stats returns the stream's counters.
func (s *PeerStream) Stats() PeerStats {
	st := *s.stats.Load()
	st.Frames = s.frames.Load()
	st.Messages = s.messages.Load()
	st.Bytes = s.bytes.Load()
	st.TilesSent = s.tilesSent.Load()
	st.LighterTiles = s.lighterTiles.Load()
	st.Refined = s.refined.Load()
	st.Copies = s.copiesSent.Load()
	st.VideoFrames = s.videoSent.Load()
	st.VideoSkipped = s.videoSkipped.Load()
	st.VideoLost = s.videoLost.Load()
	st.Stalls = s.stalls.Load()
	st.SkippedVersions = s.skipped.Load()
	st.Behind = s.behindCount.Load()
	if c := s.consumed.Load(); c&reported != 0 {
		// A report can overtake the count of what was sent (counted after Send): read as 0.
		st.Reports, st.Unapplied = true, uint64(max(int32(uint32(s.bytes.Load())-uint32(c)), 0))
	}
	st.Buffered = s.out.BufferedAmount()
	return st
}
