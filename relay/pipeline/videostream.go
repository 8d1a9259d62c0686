package pipeline

import "peerdesk/relay/wire"

// A peer stream's side of video regions (video.go): a peer that announced wire.CapVideo joins
// the region's video at a keyframe; from then on the region's tiles are left out for it, and
// it gets every layer 0 frame and, of the others, only the newest (none of layer 2 while its
// link is the limit). When the region ends it gets the region's tiles again.

// streamVideo is what a peer stream knows of the video its peer holds.
type streamVideo struct {
	in      *videoRegion // the region whose video the peer decodes; nil for none
	seen    *videoRegion // the region next counts the frames of (in, or one not yet joined)
	next    uint32       // the number of the first frame of seen not yet sent or left out
	waitKey bool         // the peer lost a layer 0 frame: it needs a keyframe from next on
}

// canVideo reports whether the peer decodes VIDEO messages.
func (s *PeerStream) canVideo() bool {
	return s.caps != nil && s.caps.Load()&wire.CapVideo != 0
}

// sendVideo sends the peer the frames of the video region it lacks, joining the region's
// video or leaving it as needed, and reports whether it sent any.
func (s *PeerStream) sendVideo() (sent bool, err error) {
	v, frames := s.view.video, s.view.vframes
	if s.video.in != nil && (s.video.in != v || !s.canVideo()) {
		s.leaveVideo()
	}
	if v == nil || v.gen != s.gen || len(frames) == 0 || !s.canVideo() {
		return false, nil
	}
	if s.video.seen != v { // another region: its frames count from 0
		s.video = streamVideo{seen: v}
	}
	if s.video.in == nil && !s.joinVideo(v, frames) {
		return false, nil
	}
	last := frames[len(frames)-1]
	if pending := catchUpBytes(frames, s.video.next); !s.video.waitKey && pending > v.catchUp {
		s.lostVideo(last) // too far behind: a fresh keyframe costs less
	}
	maxLayer := wire.VideoLayers - 1
	if s.adapt.lighter {
		maxLayer = 1
	}
	for _, f := range frames {
		switch {
		case f.num < s.video.next:
			continue
		case s.video.waitKey && !f.key, f.layer > maxLayer, f.layer > 0 && f != last:
			s.video.next = f.num + 1
			s.videoSkipped.Add(1)
			continue
		}
		if err := s.sendVideoFrame(f); err != nil {
			return sent, err
		}
		s.video.next, s.video.waitKey, sent = f.num+1, false, true
	}
	return sent, nil
}

// catchUpBytes returns the bytes of the layer 0 frames from number next on.
func catchUpBytes(frames []*videoFrame, next uint32) int {
	n := 0
	for _, f := range frames {
		if f.num >= next && f.layer == 0 {
			n += f.size
		}
	}
	return n
}

// joinVideo starts the peer on the region's video at the keyframe that begins frames, unless
// catching up from there (its layer 0 frames and the newest) costs more than the region's
// catch-up bound or the peer already lost that keyframe's frames: then it asks for a keyframe
// and reports false, and the peer keeps getting the region's tiles meanwhile.
func (s *PeerStream) joinVideo(v *videoRegion, frames []*videoFrame) bool {
	k, last := frames[0], frames[len(frames)-1]
	cost := catchUpBytes(frames, k.num)
	if last.layer > 0 {
		cost += last.size
	}
	if k.num < s.video.next || cost > v.catchUp {
		s.video.next = last.num + 1
		v.requestKey()
		return false
	}
	s.video = streamVideo{in: v, seen: v, next: k.num}
	// The peer's region pixels will be the video's: it holds no tile version of them.
	for i, in := range v.mask {
		if in {
			s.have[i], s.light[i] = 0, false
		}
	}
	s.queue.drop(v.mask)
	return true
}

// lostVideo makes the peer wait for a keyframe after last, and asks for one.
func (s *PeerStream) lostVideo(last *videoFrame) {
	s.videoSkipped.Add(uint64(last.num + 1 - s.video.next))
	s.video.next, s.video.waitKey = last.num+1, true
	s.video.in.requestKey()
	s.videoLost.Add(1)
}

// leaveVideo ends the peer's video: the region's tiles, which it holds none of, go out again.
// It keeps counting the region's frames, so that it joins again only at a new keyframe.
func (s *PeerStream) leaveVideo() {
	if v := s.video.in; v.gen == s.gen {
		for i, in := range v.mask {
			if in {
				s.have[i], s.light[i] = 0, false
			}
		}
	}
	s.video.in = nil
}

// sendVideoFrame sends the messages of one frame: the first only below high water, the others
// at once, so that the peer never holds part of a frame for long.
func (s *PeerStream) sendVideoFrame(f *videoFrame) error {
	if err := s.send(f.msgs[0]); err != nil {
		return err
	}
	for _, m := range f.msgs[1:] {
		if err := s.write(m); err != nil {
			return err
		}
	}
	s.videoSent.Add(1)
	return nil
}
