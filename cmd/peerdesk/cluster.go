package main

import (
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"peerdesk/signaling"
)

// clusterFlags make serve a node of a cluster: nodes on one PostgreSQL database meeting over
// NATS (README, "Running a cluster").
type clusterFlags struct {
	nats string
	node string
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nats, "nats", "", "NATS server(s) of a cluster, nats://host:4222[,nats://…] (token in $PEERDESK_NATS_TOKEN, never here; default: $PEERDESK_NATS_URL); needs -database")
	fs.StringVar(&f.node, "node", "", "this node's name in the cluster: 1-32 of a-z, 0-9, - (default: the host name)")
}

func (f *clusterFlags) enabled() bool { return f.nats != "" }

func (f *clusterFlags) validate(db dbFlags) error {
	if f.nats == "" {
		f.nats = os.Getenv("PEERDESK_NATS_URL")
	}
	if f.nats == "" {
		if f.node != "" {
			return fmt.Errorf("%w: -node goes with -nats", errUsage)
		}
		return nil
	}
	for _, s := range splitList(f.nats) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return fmt.Errorf("%w: -nats %q must be nats://host:port", errUsage, s)
		}
		if u.User != nil && os.Getenv("PEERDESK_NATS_URL") != f.nats {
			return fmt.Errorf("%w: -nats holds credentials, which ps shows: use $PEERDESK_NATS_TOKEN or $PEERDESK_NATS_URL", errUsage)
		}
	}
	if db.database == "" {
		return fmt.Errorf("%w: -nats needs -database postgres://… (the nodes share it)", errUsage)
	}
	if f.node == "" {
		host, _ := os.Hostname()
		f.node = nodeName(host)
	}
	if !signaling.ValidNode(f.node) {
		return fmt.Errorf("%w: -node %q: 1-32 of a-z, 0-9 and -", errUsage, f.node)
	}
	return nil
}

// nodeName makes a node name of a host name: lower case, other characters as '-', 32 at most.
func nodeName(host string) string {
	b := []byte{}
	for _, r := range host {
		switch {
		case r >= 'A' && r <= 'Z':
			b = append(b, byte(r-'A'+'a'))
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b = append(b, byte(r))
		default:
			b = append(b, '-')
		}
		if len(b) == 32 {
			break
		}
	}
	if len(b) == 0 {
		return "node"
	}
	return string(b)
}

// connect connects to the cluster's NATS, reconnecting for ever once connected.
func (f *clusterFlags) connect(log zerolog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("peerdesk " + f.node),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500 * time.Millisecond),
		nats.Timeout(5 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: closed by this process
				log.Warn().Err(err).Msg("NATS disconnected")
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("NATS reconnected") }),
	}
	if tok := os.Getenv("PEERDESK_NATS_TOKEN"); tok != "" {
		opts = append(opts, nats.Token(tok))
	}
	nc, err := nats.Connect(f.nats, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	return nc, nil
}

// nodeURL is the origin this node tells browsers they may reconnect to: -public-url, else the
// listen address when it names a host (an unspecified one, :8080, names none: a browser would
// turn it into its own machine).
func (f *clusterFlags) nodeURL(publicURL string, addr net.Addr, tls bool) string {
	if publicURL != "" {
		return publicURL
	}
	host, _, err := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); err != nil || ip == nil || ip.IsUnspecified() {
		return ""
	}
	return serverURL(addr, tls)
}
