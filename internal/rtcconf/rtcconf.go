// Package rtcconf holds the WebRTC transport settings that the relay agent and the Go client
// share, and the loopback-only settings of peers on the host itself (tests, `peerdesk demo`).
package rtcconf

import (
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// MaxSCTPMessage is the largest data-channel message either side accepts, advertised in its
// SDP: Chrome's limit. The protocol's messages are at most wire.MaxMessage.
const MaxSCTPMessage = 256 * 1024

// SCTPRTOMax caps SCTP's retransmission timeout. pion's default of 60 s lets a burst of loss
// (a socket buffer that overflowed, a network outage an ICE restart recovers from) freeze a
// display or hold input for up to a minute; an interactive desktop would rather retransmit
// sooner.
const SCTPRTOMax = 3 * time.Second

// Apply sets the shared SCTP settings on se.
func Apply(se *webrtc.SettingEngine) {
	se.SetSCTPMaxMessageSize(MaxSCTPMessage)
	se.SetSCTPRTOMax(SCTPRTOMax)
}

// Loopback returns settings that gather loopback UDP4 host candidates only, without mDNS:
// every test's peers (FIELD-NOTES.md), which must not send to any other address.
func Loopback() *webrtc.SettingEngine {
	se := &webrtc.SettingEngine{}
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	IncludeLoopback(se)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	return se
}

// IncludeLoopback makes se offer loopback candidates, without mDNS names (which a peer on
// the same host cannot use): for peers on the host itself.
func IncludeLoopback(se *webrtc.SettingEngine) {
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
}
