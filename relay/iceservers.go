package relay

import (
	"github.com/pion/webrtc/v4"

	"peerdesk/signaling/proto"
)

// setICEServers takes the ICE servers of a hello or ice-servers message: for the peer
// connections made from now on, and for the next gathering of the current ones (pion keeps
// refreshing the TURN allocations it has with the credential they were made with).
func (a *Agent) setICEServers(servers []proto.ICEServer) {
	ice := make([]webrtc.ICEServer, 0, len(servers))
	for _, is := range servers {
		ice = append(ice, webrtc.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
	}
	a.mu.Lock()
	a.ice = ice
	a.mu.Unlock()
	cfg := webrtc.Configuration{ICEServers: a.iceServers()}
	for _, p := range a.peerList() {
		p.post(peerEvent{kind: evICEServers, cfg: &cfg}) // read only, by every peer
	}
}

// iceServers returns the configured ICE servers followed by the server's.
func (a *Agent) iceServers() []webrtc.ICEServer {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(append([]webrtc.ICEServer(nil), a.cfg.ICEServers...), a.ice...)
}
