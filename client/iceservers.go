package client

import (
	"github.com/pion/webrtc/v4"

	"peerdesk/signaling/proto"
)

// toWebRTCServers converts the ICE servers of a signaling message.
func toWebRTCServers(in []proto.ICEServer) []webrtc.ICEServer {
	out := make([]webrtc.ICEServer, 0, len(in))
	for _, is := range in {
		out = append(out, webrtc.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	return out
}

// rtcConfig is the configuration of a new peer connection. Called by the run goroutine.
func (s *Session) rtcConfig() webrtc.Configuration {
	return webrtc.Configuration{ICEServers: s.iceServers, ICETransportPolicy: s.policy}
}

// updateICEServers takes the fresh TURN credentials of an ice-servers message: for the next
// peer connection, and for the current one's next gathering (pion keeps refreshing the
// allocations it has with the credential they were made with). Called by the run goroutine.
func (s *Session) updateICEServers(servers []proto.ICEServer) {
	s.iceServers = toWebRTCServers(servers)
	if p := s.currentPeer(); p != nil {
		if err := p.pc.SetConfiguration(s.rtcConfig()); err != nil {
			p.log.Warn().Err(err).Msg("fresh ICE servers refused")
		}
	}
	s.log.Debug().Int("iceServers", len(servers)).Msg("ICE servers refreshed")
}

// SelectedCandidatePair returns the ICE candidate pair the current peer connection uses; nil
// before one is selected or while the host is unavailable.
func (s *Session) SelectedCandidatePair() *webrtc.ICECandidatePair {
	p := s.currentPeer()
	if p == nil {
		return nil
	}
	pair, err := p.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil {
		return nil
	}
	return pair
}
