// Package signaling is the peerdesk signaling server: it authenticates users and relay
// agents over HTTP and relays WebRTC negotiation between peers and agents over WebSocket
// (docs/PROTOCOL.md, sections 1 and 2).
package signaling

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"peerdesk/signaling/proto"
	"peerdesk/store"
)

// DefaultSessionTTL is how long a login session lasts when Config.SessionTTL is zero.
const DefaultSessionTTL = 24 * time.Hour

// Store is the part of *store.Store the server uses.
type Store interface {
	Authenticate(ctx context.Context, username, password string) (store.User, error)
	CreateLoginSession(ctx context.Context, id store.UserID, ttl time.Duration) (string, error)
	UserBySessionToken(ctx context.Context, token string) (store.User, error)
	DeleteLoginSession(ctx context.Context, token string) error
	ConnectionByAgentToken(ctx context.Context, token string) (store.Connection, error)
	ConnectionsFor(ctx context.Context, u store.User) ([]store.Connection, error)
	CanUse(ctx context.Context, u store.User, id store.ConnectionID) (bool, error)
}

// Config configures a Server. Zero values mean defaults where a default is documented.
type Config struct {
	// Store holds users, login sessions and connections. Required.
	Store Store
	// Logger receives the server's logs; the zero value discards them.
	Logger zerolog.Logger
	// ICEServers are handed to every peer in its hello message.
	ICEServers []proto.ICEServer
	// SecureCookies sets the Secure flag on the login cookie; set it when serving TLS.
	SecureCookies bool
	// AllowedOrigins lists origins ("https://example.com") allowed to open /ws/peer and to
	// POST to the API besides the server's own host. Requests without an Origin header
	// (non-browser clients) are always allowed.
	AllowedOrigins []string
	// SessionTTL is the lifetime of a login session; zero means DefaultSessionTTL.
	SessionTTL time.Duration
	// Static is served at / (index.html for /); nil serves nothing but the API.
	Static fs.FS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c *Config) validate() error {
	if c.Store == nil {
		return fmt.Errorf("%w: Store is required", ErrInvalidConfig)
	}
	if c.SessionTTL < 0 {
		return fmt.Errorf("%w: negative SessionTTL %v", ErrInvalidConfig, c.SessionTTL)
	}
	for i, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return fmt.Errorf("%w: AllowedOrigins[%d] %q is not an origin like https://host[:port]", ErrInvalidConfig, i, o)
		}
	}
	for i, is := range c.ICEServers {
		if len(is.URLs) == 0 {
			return fmt.Errorf("%w: ICEServers[%d] has no URLs", ErrInvalidConfig, i)
		}
	}
	return nil
}

// Server is the signaling server. Build it with New, serve Handler, and Close it when done.
type Server struct {
	store      Store
	log        zerolog.Logger
	secure     bool
	origins    map[string]bool // lower-case scheme://host of AllowedOrigins
	sessionTTL time.Duration
	now        func() time.Time
	hub        *hub
	handler    http.Handler
	upgrader   websocket.Upgrader

	mu     sync.Mutex
	closed bool
	conns  map[*wsConn]struct{} // every live WebSocket
	wg     sync.WaitGroup       // one per entry ever added to conns
}

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		store:      cfg.Store,
		log:        cfg.Logger.With().Str("component", "signaling").Logger(),
		secure:     cfg.SecureCookies,
		origins:    make(map[string]bool, len(cfg.AllowedOrigins)),
		sessionTTL: cfg.SessionTTL,
		now:        cfg.Now,
		conns:      make(map[*wsConn]struct{}),
	}
	if s.sessionTTL == 0 {
		s.sessionTTL = DefaultSessionTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, o := range cfg.AllowedOrigins {
		s.origins[strings.ToLower(strings.TrimSuffix(o, "/"))] = true
	}
	s.hub = newHub(s.log, cfg.ICEServers)
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
	mux.HandleFunc("/api/connections", s.handleConnections)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint")
	})
	mux.HandleFunc("/ws/agent", s.handleAgentWS)
	mux.HandleFunc("/ws/peer", s.handlePeerWS)
	if cfg.Static != nil {
		mux.Handle("/", http.FileServerFS(cfg.Static))
	}
	s.handler = securityHeaders(mux)
	return s, nil
}

// Handler returns the HTTP handler serving the API, the WebSockets and the static files.
func (s *Server) Handler() http.Handler { return s.handler }

// Online reports whether a relay agent is connected for the connection id.
func (s *Server) Online(id store.ConnectionID) bool { return s.hub.online(id) }

// Close closes every WebSocket (http.Server.Shutdown does not close hijacked connections)
// with 1001 (going away) and waits until their goroutines have returned, which takes a few
// seconds at most even for a peer that stopped reading. WebSockets opened afterwards are
// closed at once. Close is safe to call more than once; every call waits. It does not
// close the Store.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for c := range s.conns {
			c.close(websocket.CloseGoingAway, "server shutting down")
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
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

// originAllowed reports whether a browser request comes from the server's own host or an
// allowed origin; requests without Origin (non-browser clients) are allowed.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; frame-ancestors 'none'")
		next.ServeHTTP(w, r)
	})
}
