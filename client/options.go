package client

import (
	"context"
	"net/http"

	"github.com/pion/webrtc/v4"
	"github.com/rs/zerolog"

	"peerdesk/internal/pionlog"
	"peerdesk/internal/rtcconf"
	"peerdesk/relay/wire"
)

// Option sets an optional knob of Login or Join.
type Option func(*options)

type options struct {
	log        zerolog.Logger
	se         webrtc.SettingEngine
	httpClient *http.Client
	countOnly  bool
	skipPhotos bool
	cookie     string
	relayOnly  bool
	noCopies   bool
	noVideo    bool
	onDisplay  func(context.Context, []byte)
	onControl  func(string, []byte)
	nodes      []string
}

// WithNodes names the other nodes of a cluster (origins, http(s)://host[:port], as a hello's
// Nodes gives them): Join and JoinShare try them in turn, with the same target, when the
// server does not answer or answers 5xx — its node failed. A session that ends is not
// resumed: join again, with the nodes its hello named.
func WithNodes(origins ...string) Option {
	return func(o *options) { o.nodes = append(o.nodes, origins...) }
}

// WithLogger sets the logger; pion's own logs go to it too unless the SettingEngine given
// with WithSettingEngine has a LoggerFactory. The default discards everything.
func WithLogger(l zerolog.Logger) Option {
	return func(o *options) { o.log = l }
}

// WithSettingEngine sets the pion SettingEngine the peer connections are made with (tests pass
// a loopback-only engine). The client always caps the message size and detaches the data
// channels on top of it.
func WithSettingEngine(se webrtc.SettingEngine) Option {
	return func(o *options) { o.se = se }
}

// WithHTTPClient sets the HTTP client for Login; Join dials the WebSocket with the TLS, proxy
// and dial settings of its transport when that is an *http.Transport. The default is
// http.DefaultClient.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.httpClient = c
		}
	}
}

// WithCookie makes JoinShare join under the login session of cookie (as that user) instead
// of anonymously.
func WithCookie(cookie string) Option {
	return func(o *options) { o.cookie = cookie }
}

// WithoutImageDecoding makes the session validate and count display messages without decoding
// their images, so that Image stays black: for benchmarks that run many peers in one process.
func WithoutImageDecoding() Option {
	return func(o *options) { o.countOnly = true }
}

// WithoutPhotoDecoding makes the session draw lossless (PNG) tiles only: photographic (JPEG)
// tiles are validated and counted, and their area keeps its previous pixels. For a peer that
// watches text and UI next to a video at a fraction of the CPU (tests under the race detector).
func WithoutPhotoDecoding() Option {
	return func(o *options) { o.skipPhotos = true }
}

// WithRelayOnly makes the peer connections use TURN relay candidates only
// (iceTransportPolicy "relay"), as a participant behind a restrictive firewall would.
func WithRelayOnly() Option {
	return func(o *options) { o.relayOnly = true }
}

// WithoutCopies makes the peer announce no COPY support: the relay then sends the tiles of
// what moved instead (benchmarks compare the two).
func WithoutCopies() Option {
	return func(o *options) { o.noCopies = true }
}

// WithoutVideo makes the peer announce no VIDEO support: the relay then sends video regions
// as tiles (benchmarks compare the two).
func WithoutVideo() Option {
	return func(o *options) { o.noVideo = true }
}

// WithDisplayTap calls fn with every display message as received (docs/PROTOCOL.md, 3.2),
// before the session applies it, on the display channel's reader: while fn blocks, the session
// reads no more, and the relay holds back what it sends this peer as for any slow peer. ctx
// ends when the message's peer connection closes (a new one starts with SIZE): fn should then
// stop waiting and drop the message. b is only valid during the call. The server's recorder
// writes the stream with it.
func WithDisplayTap(fn func(ctx context.Context, b []byte)) Option {
	return func(o *options) { o.onDisplay = fn }
}

// WithControlTap calls fn with the type and bytes of every well-formed control message as
// received (3.1), on the control channel's reader, before it reaches Events; fn must not block
// for long (the relay drops a peer that leaves a control message unread for 15 s). b is only
// valid during the call.
func WithControlTap(fn func(typ string, b []byte)) Option {
	return func(o *options) { o.onControl = fn }
}

// caps returns the display features the peer announces (wire.Cap bits).
func (o *options) caps() uint32 {
	var caps uint32
	if !o.noCopies {
		caps |= wire.CapCopy
	}
	if !o.noVideo {
		caps |= wire.CapVideo
	}
	return caps
}

func buildOptions(opts []Option) options {
	o := options{log: zerolog.Nop(), httpClient: http.DefaultClient}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// settingEngine returns the configured engine with the client's requirements applied.
func (o *options) settingEngine() webrtc.SettingEngine {
	se := o.se
	rtcconf.Apply(&se)
	se.DetachDataChannels()
	if se.LoggerFactory == nil {
		se.LoggerFactory = pionlog.Factory{Log: o.log}
	}
	return se
}

// transportPolicy returns the ICE transport policy of the peer connections.
func (o *options) transportPolicy() webrtc.ICETransportPolicy {
	if o.relayOnly {
		return webrtc.ICETransportPolicyRelay
	}
	return webrtc.ICETransportPolicyAll
}

// transport returns the HTTP transport whose dial settings the WebSocket dialer borrows.
func (o *options) transport() *http.Transport {
	rt := o.httpClient.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, _ := rt.(*http.Transport)
	return t
}
