package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"peerdesk/internal/promfunc"
	"peerdesk/relay"
	"peerdesk/signaling/turn"
)

// What operators run beside the service: Prometheus metrics and a graceful drain.

// opsFlags are serve's and demo's flags for metrics and draining.
type opsFlags struct {
	metricsAllow string
	drainTimeout time.Duration
}

func (f *opsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.metricsAllow, "metrics-allow", "127.0.0.1,::1", "comma-separated addresses or CIDRs that may read /metrics (others, and requests through a proxy, get 403)")
}

// registerDrain adds serve's -drain-timeout.
func (f *opsFlags) registerDrain(fs *flag.FlagSet) {
	fs.DurationVar(&f.drainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long to let live sessions go on (no new sockets meanwhile) before exiting; a second signal exits at once")
}

func (f *opsFlags) validate() error {
	if _, err := prefixList("-metrics-allow", f.metricsAllow); err != nil {
		return err
	}
	if f.drainTimeout < 0 || f.drainTimeout > time.Hour {
		return fmt.Errorf("%w: -drain-timeout %v outside 0-1h", errUsage, f.drainTimeout)
	}
	return nil
}

// prefixList parses a comma-separated list of addresses (one host each) and CIDR prefixes.
func prefixList(flagName, v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range splitList(v) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			ip, ierr := netip.ParseAddr(s)
			if ierr != nil {
				return nil, fmt.Errorf("%w: %s: %q is neither an address nor a CIDR prefix", errUsage, flagName, s)
			}
			p = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// newRegistry returns a Prometheus registry with the Go runtime's and the process's metrics
// and cs.
func newRegistry(cs ...prometheus.Collector) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(cs...)
	return reg
}

// metricsHandler serves reg's metrics to clients whose address is in allow (the connection's
// own address), 403 to others and to any request that came through a proxy (it has forwarding
// headers): a reverse proxy on the same host would otherwise pass the world off as loopback.
// Scrapers connect directly.
func metricsHandler(reg *prometheus.Registry, allow []netip.Prefix) http.Handler {
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-Ip") != "" {
			http.Error(w, "metrics are not served through a proxy", http.StatusForbidden)
			return
		}
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip, err := netip.ParseAddr(host)
		for _, p := range allow {
			if err == nil && p.Contains(ip.Unmap()) {
				h.ServeHTTP(w, r)
				return
			}
		}
		http.Error(w, "metrics are not served to this address (-metrics-allow)", http.StatusForbidden)
	})
}

// turnCollector reads the embedded TURN server's counters.
func turnCollector(s *turn.Server) prometheus.Collector {
	q := func(f func(turn.QuotaStats) float64) func() float64 {
		return func() float64 { return f(s.Stats().Quotas) }
	}
	refused := func(why string, f func(turn.QuotaStats) uint64) promfunc.Metric {
		return promfunc.Metric{Name: "turn_allocations_refused_total", Help: "TURN allocations refused, by quota.", Counter: true,
			Labels: prometheus.Labels{"quota": why}, Value: q(func(x turn.QuotaStats) float64 { return float64(f(x)) })}
	}
	return promfunc.New("peerdesk", []promfunc.Metric{
		{Name: "turn_allocations", Help: "TURN allocations held now.", Value: q(func(x turn.QuotaStats) float64 { return float64(x.Allocations) })},
		{Name: "turn_allocations_total", Help: "TURN allocations made.", Counter: true, Value: q(func(x turn.QuotaStats) float64 { return float64(x.Allocated) })},
		{Name: "turn_relayed_bytes_total", Help: "Bytes relayed by TURN, both ways.", Counter: true, Value: q(func(x turn.QuotaStats) float64 { return float64(x.RelayedBytes) })},
		refused("identity", func(x turn.QuotaStats) uint64 { return x.RefusedIdentity }),
		refused("group", func(x turn.QuotaStats) uint64 { return x.RefusedGroup }),
		refused("server", func(x turn.QuotaStats) uint64 { return x.RefusedServer }),
		refused("ended", func(x turn.QuotaStats) uint64 { return x.RefusedEnded }),
	})
}

// agentCollector reads a relay agent's counters.
func agentCollector(a *relay.Agent) prometheus.Collector {
	st := func(f func(relay.AgentStats) float64) func() float64 { return func() float64 { return f(a.Stats()) } }
	u := func(f func(relay.AgentStats) uint64) func() float64 {
		return st(func(x relay.AgentStats) float64 { return float64(f(x)) })
	}
	dropped := func(why string, f func(relay.AgentStats) uint64) promfunc.Metric {
		return promfunc.Metric{Name: "agent_input_dropped_total", Help: "Input events dropped, by reason.", Counter: true,
			Labels: prometheus.Labels{"reason": why}, Value: u(f)}
	}
	return promfunc.New("peerdesk", []promfunc.Metric{
		{Name: "agent_peers", Help: "Peers the agent serves now.", Value: st(func(x relay.AgentStats) float64 { return float64(x.Peers) })},
		{Name: "agent_desktop_available", Help: "1 while the desktop source is available.", Value: st(func(x relay.AgentStats) float64 {
			if x.DesktopAvailable {
				return 1
			}
			return 0
		})},
		{Name: "agent_connects_total", Help: "Connections made to the signaling server.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Connects })},
		{Name: "agent_updates_total", Help: "Desktop updates taken from the source.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.Updates })},
		{Name: "agent_encodes_total", Help: "Tile versions encoded (once, whatever the peers).", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.Encodes + x.Pipeline.LighterEncodes })},
		{Name: "agent_encoded_bytes_total", Help: "Bytes of tiles and video encoded.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.EncodedBytes + x.Pipeline.VideoBytes })},
		{Name: "agent_video_frames_total", Help: "Video frames encoded.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.VideoFrames })},
		{Name: "agent_sent_bytes_total", Help: "Display bytes sent to peers, all together.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.SentBytes })},
		{Name: "agent_stalls_total", Help: "Times a peer's stream waited for its transport.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.Stalls })},
		{Name: "agent_behind_total", Help: "Times a peer's stream waited for the peer to draw what it had.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.Behind })},
		{Name: "agent_skipped_versions_total", Help: "Tile versions slow peers never got: newer ones replaced them.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.Pipeline.SkippedVersions })},
		{Name: "agent_input_applied_total", Help: "Input events applied to the desktop.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.InputApplied })},
		dropped("read-only", func(x relay.AgentStats) uint64 { return x.InputDroppedReadOnly }),
		dropped("no-control", func(x relay.AgentStats) uint64 { return x.InputDroppedNoControl }),
		dropped("unavailable", func(x relay.AgentStats) uint64 { return x.InputDroppedUnavailable }),
		dropped("rejected", func(x relay.AgentStats) uint64 { return x.InputRejected }),
		{Name: "agent_peers_dropped_total", Help: "Peers dropped for flooding the agent with signaling.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.PeersFlooding })},
		{Name: "agent_candidates_refused_total", Help: "Remote ICE candidates refused.", Counter: true, Value: u(func(x relay.AgentStats) uint64 { return x.CandidatesRefused })},
	})
}

// serveMetrics serves /metrics of reg on addr until ctx ends; it returns the address it
// listens on once it does.
func serveMetrics(ctx context.Context, addr string, reg *prometheus.Registry, allow []netip.Prefix, log zerolog.Logger) (net.Addr, error) {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(reg, allow))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = hs.Close()
	}()
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics server ended")
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Msg("serving metrics")
	return ln.Addr(), nil
}

// drain lets the server's live sessions go on for up to timeout after a stop signal, refusing
// new sockets meanwhile (readyz says so): it returns once no session is live, the time is up,
// or a second signal came.
func (s *server) drain(timeout time.Duration, log zerolog.Logger) {
	if timeout <= 0 {
		return
	}
	s.sig.Drain(fmt.Sprintf("This server is shutting down within %v", timeout.Round(time.Second)))
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for s.sig.LiveSessions() > 0 {
		select {
		case <-deadline.C:
			log.Info().Int("sessions", s.sig.LiveSessions()).Msg("drain deadline: closing")
			return
		case <-sigs:
			log.Info().Msg("second signal: closing now")
			return
		case <-s.done:
			return
		case <-tick.C:
		}
	}
	log.Info().Msg("drained: no live session left")
}
