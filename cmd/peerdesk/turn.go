package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"peerdesk/signaling"
	"peerdesk/signaling/turn"
	"peerdesk/store"
)

// turnSecretKey is the store setting holding the generated TURN shared secret.
const turnSecretKey = "turn-secret"

// turnFlags configure the embedded TURN server, or an external one sharing a secret. The
// zero value runs none.
type turnFlags struct {
	udp, tcp, tlsAddr string
	publicIP          string
	tlsCert, tlsKey   string
	secretFile        string
	ttl               time.Duration
	allow             string
	external          string
}

func (f *turnFlags) register(fs *flag.FlagSet, udp, tcp, tlsAddr, allow string) {
	fs.StringVar(&f.udp, "turn-udp", udp, "address of the embedded TURN server's UDP listener (empty: none)")
	fs.StringVar(&f.tcp, "turn-tcp", tcp, "address of the embedded TURN server's TCP listener (empty: none)")
	fs.StringVar(&f.tlsAddr, "turn-tls", tlsAddr, "address of the TURNS listener, used with -turn-tls-cert")
	fs.StringVar(&f.publicIP, "turn-public-ip", "", "the relay address clients reach (default: the listener's, else the first global interface address)")
	fs.StringVar(&f.tlsCert, "turn-tls-cert", "", "TURNS certificate file (with -turn-tls-key)")
	fs.StringVar(&f.tlsKey, "turn-tls-key", "", "TURNS key file")
	fs.StringVar(&f.secretFile, "turn-secret-file", "", "file holding the TURN shared secret (default: generated once and kept in the database)")
	fs.DurationVar(&f.ttl, "turn-ttl", turn.DefaultTTL, "lifetime of the TURN credentials handed out (1m-24h)")
	fs.StringVar(&f.allow, "turn-allow", allow, "comma-separated CIDRs the TURN server may relay to although internal (LAN deployments)")
	fs.StringVar(&f.external, "turn-external", "", "comma-separated turn:/turns: URLs of an external TURN server (coturn use-auth-secret) to use instead of the embedded one; needs -turn-secret-file")
}

func (f *turnFlags) enabled() bool { return f.udp != "" || f.tcp != "" || f.external != "" }

func (f *turnFlags) validate() error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return fmt.Errorf("%w: -turn-tls-cert and -turn-tls-key go together", errUsage)
	}
	if f.ttl < time.Minute || f.ttl > turn.DefaultMaxTTL {
		return fmt.Errorf("%w: -turn-ttl %v outside 1m-24h", errUsage, f.ttl)
	}
	if f.external != "" && f.secretFile == "" {
		return fmt.Errorf("%w: -turn-external needs -turn-secret-file (the secret coturn shares)", errUsage)
	}
	if f.publicIP != "" && net.ParseIP(f.publicIP) == nil {
		return fmt.Errorf("%w: -turn-public-ip %q is not an IP address", errUsage, f.publicIP)
	}
	_, err := f.allowList()
	return err
}

func (f *turnFlags) allowList() ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for _, s := range splitList(f.allow) {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("%w: -turn-allow %q: %v", errUsage, s, err)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// startTURN starts the embedded TURN server (nil for an external one) and returns the issuer
// of credentials for the signaling server.
func startTURN(ctx context.Context, st *store.Store, f *turnFlags, log zerolog.Logger) (*turn.Server, signaling.ICEProvider, error) {
	secret, err := turnSecret(ctx, st, f.secretFile)
	if err != nil {
		return nil, nil, err
	}
	if f.external != "" {
		creds, err := turn.NewCredentials(secret, f.ttl, splitList(f.external), nil)
		if err != nil {
			return nil, nil, err
		}
		log.Info().Strs("urls", splitList(f.external)).Msg("using an external TURN server")
		return nil, creds, nil
	}
	allow, err := f.allowList()
	if err != nil {
		return nil, nil, err
	}
	// Nothing legitimate holds a credential longer than the lifetime issued: MaxTTL is also how
	// long an expired one still keeps its allocations up.
	cfg := turn.Config{Secret: secret, UDPAddr: f.udp, TCPAddr: f.tcp, Allow: allow, Logger: log, MaxTTL: cmp.Or(f.ttl, turn.DefaultTTL)}
	if cfg.RelayIP, err = relayIP(f); err != nil {
		return nil, nil, err
	}
	if f.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, nil, fmt.Errorf("load TURNS certificate: %w", err)
		}
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		cfg.TLSAddr = f.tlsAddr
		if cert.Leaf != nil && len(cert.Leaf.DNSNames) > 0 {
			cfg.TLSName = cert.Leaf.DNSNames[0]
		}
	}
	srv, err := turn.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	creds, err := turn.NewCredentials(secret, f.ttl, srv.URLs(), nil)
	if err != nil {
		_ = srv.Close()
		return nil, nil, err
	}
	return srv, creds, nil
}

// relayIP returns the relay address: -turn-public-ip, else nil when the listener names a
// specific address (turn.Config takes it), else the first global unicast interface address.
func relayIP(f *turnFlags) (net.IP, error) {
	if f.publicIP != "" {
		return net.ParseIP(f.publicIP), nil
	}
	addr := f.udp
	if addr == "" {
		addr = f.tcp
	}
	if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
			return nil, nil
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("list interface addresses: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.IsGlobalUnicast() && n.IP.To4() != nil {
			return n.IP, nil
		}
	}
	return nil, fmt.Errorf("%w: no global address to relay on: set -turn-public-ip", errUsage)
}

// turnSecret reads the shared secret from file, or else returns the one kept in the store,
// generating it on first use.
func turnSecret(ctx context.Context, st *store.Store, file string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read TURN secret: %w", err)
		}
		secret := strings.TrimSpace(string(b))
		if len(secret) < 16 {
			return "", fmt.Errorf("%w: the TURN secret in %s has fewer than 16 bytes", errUsage, file)
		}
		return secret, nil
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return st.SettingOrInit(ctx, turnSecretKey, base64.RawURLEncoding.EncodeToString(b))
}

// closeTURN closes srv if there is one, for a start that failed after it.
func closeTURN(srv *turn.Server) {
	if srv != nil {
		_ = srv.Close()
	}
}
