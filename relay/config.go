package relay

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/relay/pipeline"
)

// AgentConfig configures a host relay agent. Zero values mean the documented defaults.
type AgentConfig struct {
	// ServerURL is the signaling server's base URL, http(s)://host:port. Required.
	ServerURL string
	// OtherServers are more base URLs of the same service (the nodes of a cluster): after a
	// failed or lost connection the agent tries the next one, in turn.
	OtherServers []string
	// Token is the connection's agent token. Required; never logged.
	Token string
	// Source is the desktop to serve. Required.
	Source Source
	// Logger receives the agent's logs.
	Logger zerolog.Logger
	// Pipeline configures the encode-once pipeline; its Logger is the agent's.
	Pipeline pipeline.Config
	// SettingEngine, if set, is used for every peer connection (tests restrict ICE to loopback),
	// with the agent's SCTP settings and its data channels detached.
	SettingEngine *webrtc.SettingEngine
	// ICEServers are the STUN/TURN servers the agent gathers candidates with.
	ICEServers []webrtc.ICEServer
	// MinBackoff and MaxBackoff bound the delay between reconnection attempts
	// (defaults 250 ms and 10 s).
	MinBackoff, MaxBackoff time.Duration
	// ReplacedBackoff is how long the agent waits before it connects again after another
	// agent holding the same token replaced it (default 30 s): long enough that two holders
	// of one token do not keep taking turns, short enough that the real agent comes back.
	ReplacedBackoff time.Duration
	// RestartGrace is how long a peer restarting ICE (it re-offered on its peer connection)
	// stays present while its connection is not back (default 30 s; docs/PROTOCOL.md, 3.1).
	RestartGrace time.Duration
	// HTTPHeader is added to the WebSocket handshake (besides Authorization).
	HTTPHeader http.Header
	// AllowLocalCandidates lets peers name loopback, link-local and the host's own addresses
	// in their ICE candidates, which the agent otherwise refuses to probe: for peers on the
	// host itself (tests, `peerdesk demo`). A LAN deployment needs it only for peers that
	// reach the host through those addresses.
	AllowLocalCandidates bool
}

func (c *AgentConfig) validate() error {
	for _, s := range c.servers() {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%w: server URL %q must be http(s)://host[:port]", ErrConfig, s)
		}
	}
	if c.Token == "" {
		return fmt.Errorf("%w: agent token is empty", ErrConfig)
	}
	if c.Source == nil {
		return fmt.Errorf("%w: no desktop source", ErrConfig)
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 250 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(10*time.Second, c.MinBackoff)
	}
	if c.ReplacedBackoff <= 0 {
		c.ReplacedBackoff = 30 * time.Second
	}
	if c.RestartGrace <= 0 {
		c.RestartGrace = 30 * time.Second
	}
	return nil
}

func (c *AgentConfig) servers() []string { return append([]string{c.ServerURL}, c.OtherServers...) }

// wsURL maps the server URL of attempt n (from 0) to the agent WebSocket endpoint.
func (c *AgentConfig) wsURL(n int) string {
	servers := c.servers()
	u, _ := url.Parse(servers[n%len(servers)]) // validated
	if u.Scheme == "https" {
		u.Scheme = "wss"
	} else {
		u.Scheme = "ws"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws/agent"
	return u.String()
}

// AgentStats are counters of an agent's life.
type AgentStats struct {
	Pipeline pipeline.Stats
	// Peers is the number of peers currently known to the agent.
	Peers int
	// Connects counts successful connections to the signaling server.
	Connects uint64
	// Replaced counts the times another agent holding the same token took this one's place.
	Replaced uint64
	// InputApplied counts input events passed to the source.
	InputApplied uint64
	// InputDroppedReadOnly counts input events dropped because their sender is read-only.
	InputDroppedReadOnly uint64
	// InputDroppedNoControl counts input events dropped because their sender must ask for
	// control and does not hold it (handoff.go).
	InputDroppedNoControl uint64
	// InputUnrecorded counts applied input events a recorder was not sent: its queue was full.
	InputUnrecorded uint64
	// InputRejected counts malformed or out-of-range input messages.
	InputRejected uint64
	// InputDroppedUnavailable counts input events from full-access peers dropped because the
	// host desktop was unavailable.
	InputDroppedUnavailable uint64
	// DesktopAvailable says whether the source's desktop is available (see Notifier).
	DesktopAvailable bool
	// PeersFlooding counts peers dropped because their signaling piled up faster than the
	// agent could handle it.
	PeersFlooding uint64
	// CandidatesRefused counts remote ICE candidates refused: addresses the agent does not
	// probe, and candidates beyond the cap of one offer.
	CandidatesRefused uint64
}
