package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeFailsFastOnBadTLS is a regression test: serve used to print that it was serving and
// then wait for a signal even though ServeTLS had failed at once on a bad certificate.
func TestServeFailsFastOnBadTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for _, f := range []string{cert, key} {
		if err := os.WriteFile(f, []byte("not PEM"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Setenv("PEERDESK_ADMIN_PASSWORD", "admin-password")
	var out, errOut bytes.Buffer
	err := run(ctx, []string{"serve", "-listen", "127.0.0.1:0", "-data", dir, "-tls-cert", cert, "-tls-key", key}, &out, &errOut)
	if ctx.Err() != nil {
		t.Fatalf("serve with a bad certificate ran until the deadline (err %v)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("serve with a bad certificate = %v, want a TLS error", err)
	}
	if strings.Contains(out.String(), "serving") {
		t.Errorf("serve claimed to serve: %q", out.String())
	}
}
