// Package signaling is the peerdesk signaling server: it authenticates users and relay
// agents over HTTP and relays WebRTC negotiation between peers and agents over WebSocket
// (docs/PROTOCOL.md, sections 1 and 2).
package signaling

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// DefaultSessionTTL is how long a login session lasts when Config.SessionTTL is zero.
const DefaultSessionTTL = 24 * time.Hour

// ICEProvider issues ICE servers with credentials for one identity, and says when the
// credentials expire (the zero time: never). *turn.Credentials implements it.
type ICEProvider interface {
	ICEServers(identity string) ([]proto.ICEServer, time.Time)
}

// noisyBurst is how many lines a second the server logs of what clients can repeat at will
// (refused logins, peers over budget); Stats counts them all.
const noisyBurst = 10

// storeTimeout bounds the store calls the server makes on its own, outside a request.
const storeTimeout = 10 * time.Second

// Config configures a Server. Zero values mean defaults where a default is documented.
type Config struct {
	// Store holds users, login sessions and connections. Required.
	Store Store
	// Logger receives the server's logs; the zero value discards them.
	Logger zerolog.Logger
	// ICEServers are handed to every peer and agent in its hello message (static STUN/TURN
	// servers without expiring credentials).
	ICEServers []proto.ICEServer
	// ICEProvider, if set, issues every peer and agent ICE servers with short-lived TURN
	// credentials of their own, in hello after ICEServers, and again in an ice-servers
	// message at 80% of each credential's lifetime.
	ICEProvider ICEProvider
	// EndICEIdentity, if set, is called with the TURN identity of every peer socket that
	// closes (left, revoked, ended, disconnected): the embedded TURN server's EndIdentity ends
	// its allocations and refuses its credentials from then on.
	EndICEIdentity func(identity string)
	// SecureCookies sets the Secure flag on the login cookie; set it when serving TLS. It is on
	// anyway when PublicURL is https.
	SecureCookies bool
	// TrustedProxies lists the reverse proxies whose Forwarded and X-Forwarded-For headers name
	// the client: every throttle, cap and history row then counts the client, not the proxy.
	// Those headers from anyone else are ignored.
	TrustedProxies []netip.Prefix
	// AllowedOrigins lists origins ("https://example.com") allowed to open /ws/peer and to
	// POST to the API besides the server's own host. Requests without an Origin header
	// (non-browser clients) are always allowed.
	AllowedOrigins []string
	// PublicURL is the origin browsers use to reach the server ("https://desk.example.com"),
	// when it differs from what requests show — behind a TLS-terminating proxy. Share URLs are
	// made from it, and it is an allowed origin. Empty: share URLs follow each request.
	PublicURL string
	// SessionTTL is the lifetime of a login session; zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// OwnerGrace is how long a live session outlives its owner's last peer; zero means
	// DefaultOwnerGrace.
	OwnerGrace time.Duration
	// Static is served at / (index.html for /); nil serves nothing but the API. GET /s/KEY
	// serves its index.html for a valid share key and its invalid.html for any other.
	Static fs.FS
	// MaxPeersPerUser caps the /ws/peer sockets a logged-in user has open at once, through
	// connections and share links together; zero means DefaultMaxPeersPerUser.
	MaxPeersPerUser int
	// MaxPeersPerAddress caps the /ws/peer sockets anonymous guests have open at once from
	// one client address (IPv6 by /64, as the share-link throttle); zero means
	// DefaultMaxPeersPerAddress.
	MaxPeersPerAddress int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Recording is where and how recorded sessions are kept; its zero value records nothing.
	Recording RecordingConfig
	// Cluster, if set, makes the server a node of a cluster (cluster.go); nil: a single server.
	Cluster *ClusterConfig
}

func (c *Config) validate() error {
	if c.Store == nil {
		return fmt.Errorf("%w: Store is required", ErrInvalidConfig)
	}
	if c.SessionTTL < 0 {
		return fmt.Errorf("%w: negative SessionTTL %v", ErrInvalidConfig, c.SessionTTL)
	}
	if c.OwnerGrace < 0 {
		return fmt.Errorf("%w: negative OwnerGrace %v", ErrInvalidConfig, c.OwnerGrace)
	}
	if c.MaxPeersPerUser < 0 {
		return fmt.Errorf("%w: negative MaxPeersPerUser %d", ErrInvalidConfig, c.MaxPeersPerUser)
	}
	if c.MaxPeersPerAddress < 0 {
		return fmt.Errorf("%w: negative MaxPeersPerAddress %d", ErrInvalidConfig, c.MaxPeersPerAddress)
	}
	for i, o := range c.AllowedOrigins {
		if !IsOrigin(o) {
			return fmt.Errorf("%w: AllowedOrigins[%d] %q is not an origin like https://host[:port]", ErrInvalidConfig, i, o)
		}
	}
	if c.PublicURL != "" && !IsOrigin(c.PublicURL) {
		return fmt.Errorf("%w: PublicURL %q is not an origin like https://host[:port]", ErrInvalidConfig, c.PublicURL)
	}
	if err := c.Recording.validate(); err != nil {
		return err
	}
	if c.Cluster != nil {
		if err := c.Cluster.validate(c.Store); err != nil {
			return err
		}
	}
	for i, is := range c.ICEServers {
		if len(is.URLs) == 0 {
			return fmt.Errorf("%w: ICEServers[%d] has no URLs", ErrInvalidConfig, i)
		}
	}
	return nil
}

// IsOrigin reports whether o is an http(s) origin: scheme://host[:port], no path.
func IsOrigin(o string) bool {
	u, err := url.Parse(o)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.User == nil
}

// Server is the signaling server. Build it with New, serve Handler, and Close it when done.
type Server struct {
	store       Store
	log         zerolog.Logger
	noisy       zerolog.Logger // log, sampled: for what a client can make as frequent as it likes
	secure      bool
	proxies     []netip.Prefix
	origins     map[string]bool // lower-case scheme://host of AllowedOrigins and PublicURL
	publicURL   string          // Config.PublicURL without a trailing slash
	sessionTTL  time.Duration
	now         func() time.Time
	static      fs.FS
	iceStatic   []proto.ICEServer
	ice         ICEProvider
	endICELocal func(string) // the embedded TURN server's EndIdentity, if any
	cluster     *cluster     // nil for a single server
	mux         *http.ServeMux
	hub         *hub
	throttle    *throttle     // share-key misses per client address
	passcodes   *throttle     // wrong passcodes per share link
	loginAddrs  *throttle     // failed logins per client address
	loginUsers  *throttle     // failed logins per username
	joins       *throttle     // peer sockets opened per client address
	agentDials  *throttle     // agent handshakes per client address
	logins      chan struct{} // a slot per login being checked (loginsAtOnce)
	peerLimits  *peerLimits
	handler     http.Handler
	upgrader    websocket.Upgrader
	counters    counters
	rec         *recorders // nil when recording is off
	draining    atomic.Bool

	startMu sync.Mutex // held while a live session starts: one per connection

	mu     sync.Mutex
	closed bool
	conns  map[*wsConn]struct{} // every live WebSocket
	wg     sync.WaitGroup       // one per entry ever added to conns
}

// New returns a Server for cfg. It ends, in the store, every live session left over from
// a previous process: their participants are gone.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		store:       cfg.Store,
		log:         cfg.Logger.With().Str("component", "signaling").Logger(),
		secure:      cfg.SecureCookies || strings.HasPrefix(strings.ToLower(cfg.PublicURL), "https:"),
		proxies:     slices.Clone(cfg.TrustedProxies),
		origins:     make(map[string]bool, len(cfg.AllowedOrigins)+1),
		publicURL:   strings.TrimSuffix(cfg.PublicURL, "/"),
		sessionTTL:  cfg.SessionTTL,
		now:         cfg.Now,
		static:      cfg.Static,
		iceStatic:   cfg.ICEServers,
		ice:         cfg.ICEProvider,
		endICELocal: cfg.EndICEIdentity,
		conns:       make(map[*wsConn]struct{}),
	}
	if s.sessionTTL == 0 {
		s.sessionTTL = DefaultSessionTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, o := range append(cfg.AllowedOrigins, cfg.PublicURL) {
		if o != "" {
			s.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
		}
	}
	grace := cfg.OwnerGrace
	if grace == 0 {
		grace = DefaultOwnerGrace
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	n, err := s.store.EndAllLiveSessions(ctx, reasonRestarted)
	if err != nil {
		return nil, fmt.Errorf("signaling: end the live sessions of the previous run: %w", err)
	}
	if n > 0 {
		s.log.Info().Int("sessions", n).Msg("ended the live sessions of the previous run")
	}
	if n, err = s.store.EndOpenParticipants(ctx, s.now()); err != nil {
		return nil, fmt.Errorf("signaling: end the participants of the previous run: %w", err)
	}
	if n > 0 {
		s.log.Info().Int("participants", n).Msg("ended the participants of the previous run")
	}
	s.noisy = s.log.Sample(&zerolog.BurstSampler{Burst: noisyBurst, Period: time.Second})
	s.hub = newHub(s.log, s.now, grace, s.recordEnd, &s.counters.overBudget)
	s.throttle = newThrottle(s.now, shareMisses, shareWindow)
	s.passcodes = newThrottle(s.now, passcodeMisses, passcodeWindow)
	s.loginAddrs = newThrottle(s.now, loginAddrMisses, loginAddrWindow)
	s.loginUsers = newThrottle(s.now, loginUserMisses, loginUserWindow)
	s.logins = make(chan struct{}, loginsAtOnce)
	s.joins = newThrottle(s.now, joinsPerAddress, joinWindow)
	s.agentDials = newThrottle(s.now, joinsPerAddress, joinWindow)
	s.peerLimits = newPeerLimits(cmp.Or(cfg.MaxPeersPerUser, DefaultMaxPeersPerUser), cmp.Or(cfg.MaxPeersPerAddress, DefaultMaxPeersPerAddress))
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// The handlers check the Origin before upgrading, to answer with a JSON error.
		CheckOrigin: func(*http.Request) bool { return true },
	}

	mux := http.NewServeMux()
	mux.HandleFunc("/api/login", s.handleLogin)
	mux.HandleFunc("/api/logout", s.handleLogout)
	mux.HandleFunc("/api/me", s.handleMe)
	mux.Handle("/api/connections", s.route(handlers{
		http.MethodGet:  s.handleConnections,
		http.MethodPost: s.handleCreateConnection,
	}))
	mux.Handle("/api/connections/{id}", s.route(handlers{http.MethodDelete: s.handleDeleteConnection, http.MethodPatch: s.handleSetRecording}))
	mux.Handle("/api/recordings/{id}", s.route(handlers{http.MethodDelete: s.handleDeleteRecording}))
	mux.Handle("/api/recordings/{id}/file", s.route(handlers{http.MethodGet: s.handleRecordingFile}))
	mux.Handle("/api/connections/{id}/token", s.route(handlers{http.MethodPost: s.handleRotateToken}))
	mux.Handle("/api/connections/{id}/profiles", s.route(handlers{
		http.MethodGet:  s.handleProfiles,
		http.MethodPost: s.handleCreateProfile,
	}))
	mux.Handle("/api/profiles/{id}", s.route(handlers{
		http.MethodGet:    s.handleProfile,
		http.MethodPut:    s.handleUpdateProfile,
		http.MethodDelete: s.handleDeleteProfile,
	}))
	mux.Handle("/api/profiles/{id}/clone", s.route(handlers{http.MethodPost: s.handleCloneProfile}))
	mux.Handle("/api/sessions/{sid}/links", s.route(handlers{
		http.MethodGet:  s.handleLinks,
		http.MethodPost: s.handleCreateLink,
	}))
	mux.Handle("/api/links/{id}", s.route(handlers{http.MethodDelete: s.handleRevokeLink}))
	mux.Handle("/api/sessions", s.route(handlers{http.MethodGet: s.handleLiveSessions}))
	mux.Handle("/api/sessions/{sid}", s.route(handlers{http.MethodDelete: s.handleKillSession}))
	mux.Handle("/api/users", s.route(handlers{http.MethodGet: s.handleUsers, http.MethodPost: s.handleCreateUser}))
	mux.Handle("/api/users/{id}", s.route(handlers{http.MethodPatch: s.handleSetAdmin, http.MethodDelete: s.handleDeleteUser}))
	mux.Handle("/api/users/{id}/password", s.route(handlers{http.MethodPost: s.handleResetPassword}))
	mux.Handle("/api/users/{id}/connections/{cid}", s.route(handlers{http.MethodPut: s.handleGrant, http.MethodDelete: s.handleGrant}))
	mux.Handle("/api/me/password", s.route(handlers{http.MethodPost: s.handleChangePassword}))
	mux.Handle("/api/history", s.route(handlers{http.MethodGet: s.handleHistory}))
	mux.Handle("/api/history.csv", s.route(handlers{http.MethodGet: s.handleHistoryCSV}))
	mux.Handle("/api/share", s.route(handlers{http.MethodPost: s.handleShare}))
	mux.Handle("/s/{key...}", s.route(handlers{http.MethodGet: s.handleSharePage}))
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint")
	})
	mux.HandleFunc("/healthz", s.handleHealthz)
	mux.HandleFunc("/readyz", s.handleReadyz)
	mux.HandleFunc("/ws/agent", s.handleAgentWS)
	mux.HandleFunc("/ws/peer", s.handlePeerWS)
	if cfg.Static != nil {
		mux.Handle("/", http.FileServerFS(cfg.Static))
	}
	s.mux = mux
	s.handler = securityHeaders(mux, s.secure, s.cluster.origins) // the recorders' (never routed)
	if s.rec, err = newRecorders(s, cfg.Recording); err != nil {
		return nil, fmt.Errorf("signaling: %w", err)
	}
	if cfg.Cluster != nil { // last: forwarded requests may come in at once
		if _, err = startCluster(s, cfg.Cluster); err != nil {
			s.rec.close()
			return nil, err
		}
		s.handler = securityHeaders(s.cluster.route(mux), s.secure, s.cluster.origins)
	}
	return s, nil
}

// Handler returns the HTTP handler serving the API, the WebSockets and the static files.
func (s *Server) Handler() http.Handler { return s.handler }

// Online reports whether a relay agent is connected for the connection id.
func (s *Server) Online(id store.ConnectionID) bool { return s.hub.online(id) }

// Close closes every WebSocket (http.Server.Shutdown does not close hijacked connections)
// with 1001 (going away) and waits until their goroutines have returned, which takes a few
// seconds at most even for a peer that stopped reading. WebSockets opened afterwards are
// closed at once. It stops the owners' grace timers, waiting for one that is ending a
// session; the live sessions end in the store when the next server starts (a cluster node
// ends its own in the store first, and frees its homes, so that its clients come back
// through the other nodes). Close is safe to call more than once; every call waits. It does
// not close the Store.
func (s *Server) Close() error {
	s.rec.close() // the recorders finish their files while the sessions still run
	if s.cluster != nil {
		// First the others hear this node go, its sessions end and its homes are free: the
		// clients closed below come back through other nodes, not here.
		s.cluster.close()
	}
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for c := range s.conns {
			c.close(websocket.CloseGoingAway, "server shutting down")
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.hub.close()
	return nil
}

// EndSession ends live session id: every participant gets the ended state with message
// (e.g. "The session was ended by an administrator") and is disconnected, the agent is told
// they left, its share links stop working, and the store records reason. It returns
// ErrSessionNotFound if no such session is live.
func (s *Server) EndSession(ctx context.Context, id SessionID, reason, message string) error {
	if !s.hub.endSession(id, message) {
		return fmt.Errorf("end session %s: %w", id, ErrSessionNotFound)
	}
	s.log.Info().Str("session", string(id)).Str("reason", reason).Msg("live session ended")
	if err := s.store.EndLiveSession(ctx, string(id), reason); err != nil {
		return fmt.Errorf("end session %s: %w", id, err)
	}
	return nil
}

// openSession returns the live session of connection id, starting one owned by user if none
// is live. ErrNotFound (from the store) if the connection does not exist.
func (s *Server) openSession(ctx context.Context, id store.ConnectionID, user store.User) (*session, error) {
	s.startMu.Lock()
	defer s.startMu.Unlock()
	if sess := s.hub.liveSession(id); sess != nil {
		return sess, nil
	}
	conn, err := s.store.Connection(ctx, id)
	if err != nil {
		return nil, err
	}
	sid := newSessionID()
	if err := s.store.StartLiveSession(ctx, string(sid), id, user.ID); err != nil {
		return nil, err
	}
	conn.Record = conn.Record && s.rec.records() // a server that records nothing tells nobody so
	s.log.Info().Str("session", string(sid)).Int64("connection", int64(id)).Str("owner", user.Username).Bool("recorded", conn.Record).Msg("live session started")
	sess := s.hub.startSession(sid, conn, user, s.now())
	if conn.Record {
		s.rec.start(sess)
	}
	return sess, nil
}

// recordEnd records in the store that the hub ended live session id for reason.
func (s *Server) recordEnd(id SessionID, reason string) {
	s.log.Info().Str("session", string(id)).Str("reason", reason).Msg("live session ended")
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := s.store.EndLiveSession(ctx, string(id), reason); err != nil {
		s.log.Error().Err(err).Str("session", string(id)).Msg("record the end of a live session")
	}
}

// track registers a new WebSocket so that Close can end it; it reports false once the
// server is closed. Every successful track must be paired with untrack.
func (s *Server) track(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *wsConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}
