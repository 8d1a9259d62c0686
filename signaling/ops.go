package signaling

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"peerdesk/internal/promfunc"
	"peerdesk/signaling/proto"
)

// What operators and load balancers see of the server: liveness, readiness, draining and
// metrics.

// readyTimeout bounds the checks of /readyz.
const readyTimeout = 2 * time.Second

// msgDraining is what a WebSocket refused while the server drains is told.
const msgDraining = "this server is shutting down: try again in a moment"

// Drain makes the server refuse new peer and agent WebSockets (503 with Retry-After, which a
// load balancer's other nodes then take) and answer /readyz with 503, and tells every peer of
// every live session, with a draining message carrying message, that the server is shutting
// down; the sessions go on until Close. Calling it again does nothing.
func (s *Server) Drain(message string) {
	if s.draining.Swap(true) {
		return
	}
	s.log.Info().Msg("draining: no new sockets")
	s.hub.broadcastAll(proto.Message{Type: proto.TypeDraining, Message: message}.Encode())
}

// LiveSessions returns the number of live sessions (a drain waits for them to end).
func (s *Server) LiveSessions() int {
	n, _, _ := s.hub.counts()
	return n
}

// tellDraining tells peer p, which joined as the drain began, that the server drains.
func (s *Server) tellDraining(p *peer) {
	if s.draining.Load() {
		p.ws.send(proto.Message{Type: proto.TypeDraining, Message: msgDraining}.Encode())
	}
}

// refuseDraining answers a new WebSocket with 503 while the server drains.
func (s *Server) refuseDraining(w http.ResponseWriter) bool {
	if !s.draining.Load() {
		return false
	}
	s.counters.drainRefused.Add(1)
	w.Header().Set("Retry-After", "2")
	writeError(w, http.StatusServiceUnavailable, msgDraining)
	return true
}

// handleHealthz answers that the process serves: 200 {"status":"ok"}, whatever its state.
func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readiness is the /readyz reply.
type readiness struct {
	Ready    bool   `json:"ready"`
	Database string `json:"database"` // "ok" or why not
	Bus      string `json:"bus"`      // "ok", "unavailable", or "off" on a single server
	Draining bool   `json:"draining"`
}

// handleReadyz answers whether the server should get new sessions: its database answers, a
// cluster node is connected to its NATS, and it is not draining (200), or not (503), with
// each check's outcome.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	rd := readiness{Database: "ok", Bus: "off", Draining: s.draining.Load()}
	if err := s.store.Ping(ctx); err != nil {
		rd.Database = "unavailable"
		s.noisy.Warn().Err(err).Msg("readiness: database unavailable")
	}
	if s.cluster != nil {
		rd.Bus = "ok"
		if !s.cluster.nc.IsConnected() {
			rd.Bus = "unavailable"
		}
	}
	rd.Ready = rd.Database == "ok" && rd.Bus != "unavailable" && !rd.Draining
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, rd)
}

// Collector returns the server's Prometheus metrics (namespace peerdesk): live sessions,
// peers, agents and recordings now, and counters of joins, link misses, throttles and
// refusals since the start.
func (s *Server) Collector() prometheus.Collector {
	st := func(f func(Stats) uint64) func() float64 {
		return func() float64 { return float64(f(s.Stats())) }
	}
	throttled := func(kind string, f func(Stats) uint64) promfunc.Metric {
		return promfunc.Metric{Name: "throttled_total", Help: "Requests refused by a throttle or cap, by kind.", Counter: true,
			Labels: prometheus.Labels{"kind": kind}, Value: st(f)}
	}
	return promfunc.New("peerdesk", append(s.cluster.metrics(), []promfunc.Metric{
		{Name: "live_sessions", Help: "Live sessions on this node.", Value: func() float64 { n, _, _ := s.hub.counts(); return float64(n) }},
		{Name: "peers", Help: "Peers on the live sessions of this node, the recorders aside.", Value: func() float64 { _, n, _ := s.hub.counts(); return float64(n) }},
		{Name: "agents", Help: "Relay agents connected to this node.", Value: func() float64 { _, _, n := s.hub.counts(); return float64(n) }},
		{Name: "recordings_active", Help: "Sessions being recorded.", Value: promfunc.Int(s.rec.active)},
		{Name: "joins_total", Help: "Peer sockets accepted onto a live session.", Counter: true, Value: st(func(x Stats) uint64 { return x.Joins })},
		{Name: "link_misses_total", Help: "Share-link requests with an invalid key.", Counter: true, Value: st(func(x Stats) uint64 { return x.LinkMisses })},
		{Name: "passcode_misses_total", Help: "Share-link requests with a wrong passcode.", Counter: true, Value: st(func(x Stats) uint64 { return x.PasscodeMisses })},
		throttled("login", func(x Stats) uint64 { return x.LoginsThrottled }),
		throttled("login_busy", func(x Stats) uint64 { return x.LoginsBusy }),
		throttled("join", func(x Stats) uint64 { return x.JoinsThrottled }),
		throttled("share", func(x Stats) uint64 { return x.SharesThrottled }),
		throttled("agent", func(x Stats) uint64 { return x.AgentsThrottled }),
		throttled("signaling_budget", func(x Stats) uint64 { return x.PeersOverBudget }),
		{Name: "drain_refused_total", Help: "WebSockets refused while the node drains.", Counter: true, Value: st(func(x Stats) uint64 { return x.DrainRefused })},
	}...))
}

// counts returns the number of live sessions, of their peers (the recorders aside) and of the
// agents connected.
func (h *hub) counts() (sessions, peers, agents int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		for _, p := range s.peers {
			if p.identity.Role != proto.RoleRecorder {
				peers++
			}
		}
	}
	return len(h.sessions), peers, len(h.agents)
}

// broadcastAll sends frame to every peer of every live session, those waiting to be let in too.
func (h *hub) broadcastAll(frame []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sessions {
		for _, p := range s.peers {
			p.ws.send(frame)
		}
		for _, w := range s.waiting {
			w.p.ws.send(frame)
		}
	}
}
