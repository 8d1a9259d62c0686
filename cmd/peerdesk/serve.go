package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"peerdesk/signaling"
	"peerdesk/signaling/turn"
	"peerdesk/store"
	"peerdesk/web"
)

// serverFlags are the flags shared by serve and demo.
type serverFlags struct {
	dbFlags
	listen       string
	adminUser    string
	adminPwdFile string
	tlsCert      string
	tlsKey       string
	origins      string
	publicURL    string
	proxies      string
	maxPeersUser int
	maxPeersAddr int
	logLevel     string
	ownerGrace   time.Duration
	turn         turnFlags
	recordings   recordingFlags
	ops          opsFlags
	cluster      clusterFlags // serve only
}

func (f *serverFlags) register(fs *flag.FlagSet, listen string) {
	fs.StringVar(&f.listen, "listen", listen, "address to serve HTTP on")
	f.dbFlags.register(fs)
	fs.StringVar(&f.adminUser, "admin-user", "admin", "name of the administrator account made on first start")
	fs.StringVar(&f.adminPwdFile, "admin-password-file", "", "file holding the administrator's password (default: $PEERDESK_ADMIN_PASSWORD, else generated on first start)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (serves HTTPS with -tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key file")
	fs.StringVar(&f.origins, "allowed-origins", "", "comma-separated extra origins allowed to open peer WebSockets")
	fs.IntVar(&f.maxPeersUser, "max-peers-per-user", signaling.DefaultMaxPeersPerUser, "most peer connections (tabs, Go peers) one user may have open at once")
	fs.IntVar(&f.maxPeersAddr, "max-peers-per-address", signaling.DefaultMaxPeersPerAddress, "most anonymous guest connections open at once from one address (IPv6: one /64)")
	fs.StringVar(&f.proxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-For/Forwarded headers name the client")
	fs.StringVar(&f.publicURL, "public-url", "", "the origin browsers reach the server at, e.g. https://desk.example.com behind a TLS proxy (share URLs use it)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: trace, debug, info, warn, error")
	fs.DurationVar(&f.ownerGrace, "owner-grace", signaling.DefaultOwnerGrace, "how long a live session outlives its owner's last tab (a reload keeps it)")
	f.recordings.register(fs)
}

// trustedProxies parses -trusted-proxies: addresses (one host each) and CIDR prefixes.
func (f *serverFlags) trustedProxies() ([]netip.Prefix, error) {
	return prefixList("-trusted-proxies", f.proxies)
}

func (f *serverFlags) validate() error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return fmt.Errorf("%w: -tls-cert and -tls-key go together", errUsage)
	}
	if _, _, err := net.SplitHostPort(f.listen); err != nil {
		return fmt.Errorf("%w: -listen %q: %v", errUsage, f.listen, err)
	}
	if f.data == "" {
		return fmt.Errorf("%w: -data is empty", errUsage)
	}
	if err := f.dbFlags.validate(); err != nil {
		return err
	}
	if f.turn.enabled() {
		if err := f.turn.validate(); err != nil {
			return err
		}
	}
	if f.maxPeersUser < 1 || f.maxPeersUser > 10000 || f.maxPeersAddr < 1 || f.maxPeersAddr > 10000 {
		return fmt.Errorf("%w: -max-peers-per-user and -max-peers-per-address must be 1-10000", errUsage)
	}
	if f.publicURL != "" && !signaling.IsOrigin(f.publicURL) {
		return fmt.Errorf("%w: -public-url %q must be an origin like https://host[:port]", errUsage, f.publicURL)
	}
	if _, err := f.trustedProxies(); err != nil {
		return err
	}
	if f.ownerGrace < 0 || f.ownerGrace > time.Hour {
		return fmt.Errorf("%w: -owner-grace %v outside 0-1h", errUsage, f.ownerGrace)
	}
	if err := f.ops.validate(); err != nil {
		return err
	}
	return f.recordings.validate()
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serverFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs, ":8080")
	f.turn.register(fs, ":3478", ":3478", ":5349", "")
	f.ops.register(fs)
	f.ops.registerDrain(fs)
	f.cluster.register(fs)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	if err := f.cluster.validate(f.dbFlags); err != nil {
		return err
	}
	log, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return err
	}
	var opts []store.Option
	if f.cluster.enabled() {
		opts = append(opts, store.WithNode(f.cluster.node))
	}
	st, err := store.Open(ctx, f.dbPath(), opts...)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := ensureAdmin(ctx, st, &f, stdout); err != nil {
		return err
	}
	srv, err := startServer(ctx, st, &f, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "peerdesk is serving on %s\n", srv.url)
	select {
	case <-ctx.Done():
		srv.drain(f.ops.drainTimeout, log)
	case <-srv.done: // the HTTP server failed: say why rather than wait for a signal
	}
	return srv.close()
}

// server is a running signaling server and its HTTP listener.
type server struct {
	url  string
	sig  *signaling.Server
	turn *turn.Server // nil without an embedded TURN server
	nats *nats.Conn   // a cluster node's; nil for a single server
	http *http.Server
	done chan struct{} // closed when the serve loop has returned
	err  error         // why the serve loop failed; read after done
}

// startServer listens on f.listen and serves the signaling server until close.
func startServer(ctx context.Context, st *store.Store, f *serverFlags, log zerolog.Logger) (*server, error) {
	if err := st.ClaimServer(ctx); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if f.tlsCert != "" {
		// Loaded here rather than by ServeTLS, so that a bad file fails the start at once.
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	var origins []string
	for _, o := range strings.Split(f.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	var turnSrv *turn.Server
	var ice signaling.ICEProvider
	var endICE func(string)
	if f.turn.enabled() {
		var err error
		if turnSrv, ice, err = startTURN(ctx, st, &f.turn, log); err != nil {
			return nil, err
		}
		if turnSrv != nil {
			endICE = turnSrv.EndIdentity
		}
	}
	proxies, _ := f.trustedProxies() // validated
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", f.listen)
	if err != nil {
		closeTURN(turnSrv)
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &server{turn: turnSrv, url: serverURL(ln.Addr(), tlsConfig != nil), done: make(chan struct{})}
	var cluster *signaling.ClusterConfig
	if f.cluster.enabled() {
		if s.nats, err = f.cluster.connect(log); err != nil {
			_ = ln.Close()
			closeTURN(turnSrv)
			return nil, err
		}
		cluster = &signaling.ClusterConfig{NATS: s.nats, Node: f.cluster.node, URL: f.cluster.nodeURL(f.publicURL, ln.Addr(), tlsConfig != nil)}
		if turnSrv != nil {
			cluster.TURN = turnSrv.URLs()
		}
	}
	sig, err := signaling.New(signaling.Config{
		Store:              st,
		Logger:             log,
		Static:             web.Static(),
		SecureCookies:      f.tlsCert != "",
		AllowedOrigins:     origins,
		PublicURL:          f.publicURL,
		TrustedProxies:     proxies,
		MaxPeersPerUser:    f.maxPeersUser,
		MaxPeersPerAddress: f.maxPeersAddr,
		OwnerGrace:         f.ownerGrace,
		ICEProvider:        ice,
		EndICEIdentity:     endICE,
		Recording:          f.recordings.config(f.data),
		Cluster:            cluster,
	})
	if err != nil {
		_ = ln.Close()
		if s.nats != nil {
			s.nats.Close()
		}
		closeTURN(turnSrv)
		return nil, err
	}
	s.sig = sig
	cs := []prometheus.Collector{sig.Collector()}
	if turnSrv != nil {
		cs = append(cs, turnCollector(turnSrv))
	}
	allow, _ := prefixList("-metrics-allow", f.ops.metricsAllow) // validated
	mux := http.NewServeMux()
	mux.Handle("/metrics", metricsHandler(newRegistry(cs...), allow))
	mux.Handle("/", sig.Handler())
	s.http = &http.Server{
		Handler:           mux,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second, // bodies are small; gorilla clears it on upgrade
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		defer close(s.done)
		var err error
		if tlsConfig != nil {
			err = s.http.ServeTLS(ln, "", "")
		} else {
			err = s.http.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("serve HTTP: %w", err)
		}
	}()
	log.Info().Str("url", s.url).Msg("signaling server listening")
	return s, nil
}

// close stops accepting, closes every WebSocket and waits for the serve loop.
func (s *server) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errShut := s.http.Shutdown(ctx)
	errSig := s.sig.Close()
	if s.nats != nil {
		s.nats.Close()
	}
	<-s.done
	var errTURN error
	if s.turn != nil {
		errTURN = s.turn.Close()
	}
	return errors.Join(s.err, errShut, errSig, errTURN)
}

// serverURL is the URL a browser on this machine opens for addr.
func serverURL(addr net.Addr, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// ensureAdmin makes the administrator account on first start, with the configured password or
// a generated one printed once; with a configured password it also resets an existing admin's.
func ensureAdmin(ctx context.Context, st *store.Store, f *serverFlags, stdout io.Writer) error {
	pw, err := secretFrom(f.adminPwdFile, "PEERDESK_ADMIN_PASSWORD")
	if err != nil {
		return err
	}
	u, err := st.UserByName(ctx, f.adminUser)
	switch {
	case errors.Is(err, store.ErrNotFound):
		generated := pw == ""
		if generated {
			pw = rand.Text()
		}
		if _, err := st.CreateUser(ctx, f.adminUser, pw, true); err != nil {
			return fmt.Errorf("create admin: %w", err)
		}
		if generated {
			fmt.Fprintf(stdout, "admin login: %s / %s  (generated now and shown only once)\n", f.adminUser, pw)
		} else {
			fmt.Fprintf(stdout, "admin login: %s / (the configured password)\n", f.adminUser)
		}
		return nil
	case err != nil:
		return err
	case pw != "":
		if err := st.SetPassword(ctx, u.ID, pw); err != nil {
			return fmt.Errorf("set admin password: %w", err)
		}
		fmt.Fprintf(stdout, "admin login: %s / (the configured password)\n", f.adminUser)
	default:
		fmt.Fprintf(stdout, "admin login: %s / (unchanged; set PEERDESK_ADMIN_PASSWORD to reset it)\n", f.adminUser)
	}
	return nil
}

// secretFrom reads a secret from a file if given, else from an environment variable. Secrets
// never come from flag values, which other users see in ps.
func secretFrom(file, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read secret: %w", err)
	}
	if len(b) > 4096 {
		return "", fmt.Errorf("%w: secret file %s is larger than 4 KiB", errUsage, file)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}
