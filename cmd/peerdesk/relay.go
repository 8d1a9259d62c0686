package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/internal/rtcconf"
	"peerdesk/relay"
	"peerdesk/relay/demo"
	"peerdesk/relay/pipeline"
	"peerdesk/relay/vnc"
	"peerdesk/relay/wire"
)

// relayFlags are the flags of the relay agent, shared by relay and demo.
type relayFlags struct {
	size        string
	fps         int
	busy, grain int
	loopback    bool
	noVideo     bool
	videoKbps   int
	metrics     string // -metrics-listen
}

func (f *relayFlags) register(fs *flag.FlagSet, loopback bool) {
	fs.StringVar(&f.size, "demo-size", "1280x720", "size of the demo desktop, WIDTHxHEIGHT")
	fs.IntVar(&f.fps, "demo-fps", 30, "frames per second of the demo desktop's animation (1-120)")
	fs.IntVar(&f.busy, "demo-busy", 0, "percentage of the demo desktop's height covered by a band that changes every frame (0-100), a load for benchmarks")
	fs.IntVar(&f.grain, "demo-grain", 0, "film grain in the busy band (0-64), so that it costs about what a video does")
	fs.BoolVar(&f.loopback, "ice-loopback", loopback, "offer loopback ICE candidates (peers on this machine)")
	fs.BoolVar(&f.noVideo, "no-video", false, "send regions that play video as image tiles, never as VP8")
	fs.IntVar(&f.videoKbps, "video-kbps", 2200, "bit rate of video regions, kbit/s per megapixel of region (100-20000)")
	fs.StringVar(&f.metrics, "metrics-listen", "", "address to serve the agent's Prometheus /metrics on (off when empty)")
}

// pipeline returns the pipeline settings the flags choose.
func (f *relayFlags) pipeline() (pipeline.Config, error) {
	if f.videoKbps < 100 || f.videoKbps > 20000 {
		return pipeline.Config{}, fmt.Errorf("%w: -video-kbps %d outside 100-20000", errUsage, f.videoKbps)
	}
	return pipeline.Config{NoVideo: f.noVideo, VideoKbps: f.videoKbps}, nil
}

// demoSource builds the demo desktop from the flags.
func (f *relayFlags) demoSource() (*demo.Desktop, error) {
	w, h, err := parseSize(f.size)
	if err != nil {
		return nil, err
	}
	if f.fps < 1 || f.fps > 120 {
		return nil, fmt.Errorf("%w: -demo-fps %d outside 1-120", errUsage, f.fps)
	}
	if f.busy < 0 || f.busy > 100 || f.grain < 0 || f.grain > 64 {
		return nil, fmt.Errorf("%w: -demo-busy %d outside 0-100 or -demo-grain %d outside 0-64", errUsage, f.busy, f.grain)
	}
	return demo.New(demo.Config{Width: w, Height: h, FPS: f.fps, Busy: f.busy, Grain: f.grain})
}

// settingEngine returns the pion settings for the agent's peer connections.
func (f *relayFlags) settingEngine() *webrtc.SettingEngine {
	se := &webrtc.SettingEngine{}
	if f.loopback {
		rtcconf.IncludeLoopback(se)
	}
	return se
}

func parseSize(s string) (w, h int, err error) {
	ws, hs, ok := strings.Cut(s, "x")
	w, errW := strconv.Atoi(ws)
	h, errH := strconv.Atoi(hs)
	if !ok || errW != nil || errH != nil || w < 16 || h < 16 || w > wire.MaxDimension || h > wire.MaxDimension {
		return 0, 0, fmt.Errorf("%w: size %q must be WIDTHxHEIGHT, each 16-%d", errUsage, s, wire.MaxDimension)
	}
	return w, h, nil
}

func cmdRelay(ctx context.Context, args []string, stderr io.Writer) error {
	var rf relayFlags
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	serverURL := fs.String("server", "http://localhost:8080", "signaling server URL; a cluster's nodes comma-separated, tried in turn")
	tokenFile := fs.String("token-file", "", "file holding the connection's agent token (default: $PEERDESK_AGENT_TOKEN)")
	logLevel := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	vncAddr := fs.String("vnc", "", "serve the desktop of the VNC server at HOST:PORT instead of the demo desktop")
	vncPasswordFile := fs.String("vnc-password-file", "", "file holding the VNC password (default: $PEERDESK_VNC_PASSWORD)")
	rf.register(fs, false)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logLevel)
	if err != nil {
		return err
	}
	token, err := secretFrom(*tokenFile, "PEERDESK_AGENT_TOKEN")
	if err != nil {
		return err
	}
	if token == "" {
		return fmt.Errorf("%w: no agent token: set PEERDESK_AGENT_TOKEN or -token-file", errUsage)
	}
	src, err := relaySource(*vncAddr, *vncPasswordFile, &rf, log)
	if err != nil {
		return err
	}
	return runAgent(ctx, *serverURL, token, src, &rf, log)
}

// relaySource returns the desktop of the VNC server at vncAddr, or the demo desktop if
// vncAddr is empty.
func relaySource(vncAddr, passwordFile string, rf *relayFlags, log zerolog.Logger) (relay.Source, error) {
	if vncAddr == "" {
		d, err := rf.demoSource()
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	password, err := secretFrom(passwordFile, "PEERDESK_VNC_PASSWORD")
	if err != nil {
		return nil, err
	}
	c, err := vnc.New(vnc.Config{Addr: vncAddr, Password: password, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%w: -vnc: %w", errUsage, err)
	}
	return c, nil
}

// runAgent runs a relay agent until ctx ends.
func runAgent(ctx context.Context, serverURL, token string, src relay.Source, rf *relayFlags, log zerolog.Logger) error {
	servers := splitList(serverURL)
	if len(servers) == 0 {
		servers = []string{""} // the agent says what is wrong with it
	}
	pcfg, err := rf.pipeline()
	if err != nil {
		return err
	}
	a, err := relay.NewAgent(relay.AgentConfig{
		Pipeline:      pcfg,
		ServerURL:     servers[0],
		OtherServers:  servers[1:],
		Token:         token,
		Source:        src,
		Logger:        log,
		SettingEngine: rf.settingEngine(),
		// Peers on this machine reach the agent through loopback: take their candidates.
		AllowLocalCandidates: rf.loopback,
	})
	if err != nil {
		return err
	}
	if rf.metrics != "" {
		all := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")} // the listen address decides
		if _, err := serveMetrics(ctx, rf.metrics, newRegistry(agentCollector(a)), all, log); err != nil {
			return err
		}
	}
	if err := a.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
