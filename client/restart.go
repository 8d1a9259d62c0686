package client

import (
	"time"

	"github.com/pion/webrtc/v4"
)

// ICE restart (docs/PROTOCOL.md, section 2): when the path to the relay breaks, the peer
// re-offers on the same peer connection with fresh ICE credentials; its data channels, and so
// the session, survive the outage.
const (
	// iceDisconnectedGrace is how long ICE may stay disconnected before a restart: a short
	// loss often heals by itself.
	iceDisconnectedGrace = 2 * time.Second
	// iceRestartInterval is the time between two restarts while the connection is not back.
	iceRestartInterval = 3 * time.Second
	// maxICERestarts restarts (about 30 s) without success make a fresh peer connection.
	maxICERestarts = 10
)

// watchICE restarts ICE on the current peer connection when its path broke: once it has been
// disconnected for iceDisconnectedGrace, or at once when it failed, then every
// iceRestartInterval until it is connected again; after maxICERestarts it offers a fresh peer
// connection instead. It arms timer for its next check. Called by run after every event.
func (s *Session) watchICE(timer *time.Timer) error {
	timer.Stop()
	p := s.currentPeer()
	if p == nil {
		return nil
	}
	now := time.Now()
	switch p.pc.ICEConnectionState() {
	case webrtc.ICEConnectionStateConnected, webrtc.ICEConnectionStateCompleted:
		if p.restarts > 0 {
			p.log.Info().Int("restarts", p.restarts).Msg("ICE restart succeeded: connection back")
		}
		p.restarts, p.nextRestart = 0, time.Time{}
		return nil
	case webrtc.ICEConnectionStateDisconnected:
		if p.nextRestart.IsZero() {
			p.nextRestart = now.Add(iceDisconnectedGrace)
		}
	case webrtc.ICEConnectionStateFailed:
		if p.restarts == 0 {
			p.nextRestart = now
		}
	case webrtc.ICEConnectionStateChecking:
		// A first connection, or a restart under way (nextRestart is then set).
	default: // new, closed
		return nil
	}
	if p.nextRestart.IsZero() {
		return nil
	}
	if wait := p.nextRestart.Sub(now); wait > 0 {
		timer.Reset(wait)
		return nil
	}
	if p.restarts >= maxICERestarts {
		p.log.Warn().Int("restarts", p.restarts).Msg("ICE restarts did not bring the connection back: offering a new peer connection")
		s.closePeer()
		return s.openPeer()
	}
	s.restartICE(p)
	timer.Reset(iceRestartInterval)
	return nil
}

// restartICE offers an ICE restart on p, unless its previous offer is still unanswered.
// Called by run.
func (s *Session) restartICE(p *peer) {
	p.restarts++
	p.nextRestart = time.Now().Add(iceRestartInterval)
	if st := p.pc.SignalingState(); st != webrtc.SignalingStateStable {
		p.log.Debug().Stringer("signaling", st).Msg("ICE restart deferred: the previous offer has no answer yet")
		return
	}
	p.log.Info().Int("attempt", p.restarts).Stringer("ice", p.pc.ICEConnectionState()).Msg("restarting ICE")
	s.iceRestarts.Add(1)
	if err := s.offer(p, &webrtc.OfferOptions{ICERestart: true}); err != nil {
		p.log.Warn().Err(err).Msg("ICE restart offer failed")
	}
}
