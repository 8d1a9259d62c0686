package turn

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestQuotaBandwidthThrottles: two real pion TURN clients send to a loopback peer through
// the embedded server at the same offered rate, eight times a peer's bandwidth cap (64 KiB/s
// here). The peer identity's traffic reaching the peer stays within its token bucket (the
// cap over the run plus one burst) yet gets through at about the cap, while an agent
// identity, configured unlimited, passes nearly all of it.
func TestQuotaBandwidthThrottles(t *testing.T) {
	const (
		capped  = 64 << 10 // bytes/s
		burst   = 64 << 10 // the bucket's depth: max(Bandwidth, 64 KiB)
		offered = 8 * capped
		size    = 1000
		run     = 1500 * time.Millisecond
	)
	s, err := New(Config{
		Secret:     testSecret,
		UDPAddr:    "127.0.0.1:0",
		Allow:      []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		PeerQuota:  Quota{Bandwidth: capped},
		AgentQuota: Quota{Bandwidth: -1},
		Logger:     zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	_, peerRelay := allocateOver(t, s, listenUDP(t), s.UDPAddr().String(), "peer-capped")
	_, agentRelay := allocateOver(t, s, listenUDP(t), s.UDPAddr().String(), AgentIdentityPrefix+"free")

	// The peer counts what arrives from each relayed address.
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		received = map[string]int{}
	)
	sinkDone := make(chan struct{})
	go func() {
		defer close(sinkDone)
		buf := make([]byte, 1500)
		for {
			n, from, err := sink.ReadFrom(buf)
			if err != nil {
				return
			}
			mu.Lock()
			received[from.String()] += n
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = sink.Close()
		<-sinkDone
	})

	// Both senders pace themselves to the offered rate for the run.
	start := time.Now()
	sent := make([]int, 2)
	var wg sync.WaitGroup
	for i, relay := range []net.PacketConn{peerRelay, agentRelay} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkt := make([]byte, size)
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for now := range tick.C {
				elapsed := now.Sub(start)
				if elapsed >= run {
					return
				}
				for sent[i] < int(elapsed.Seconds()*offered) {
					if _, err := relay.WriteTo(pkt, sink.LocalAddr()); err != nil {
						t.Errorf("relay write: %v", err)
						return
					}
					sent[i] += size
				}
			}
		}()
	}
	wg.Wait()
	// Let the last packets through the server before counting.
	time.Sleep(200 * time.Millisecond)
	window := time.Since(start)
	mu.Lock()
	gotCapped, gotFree := received[peerRelay.LocalAddr().String()], received[agentRelay.LocalAddr().String()]
	mu.Unlock()
	t.Logf("in %v: capped identity sent %d B, %d B arrived (%.0f KiB/s); unlimited identity sent %d B, %d B arrived",
		window.Round(time.Millisecond), sent[0], gotCapped, float64(gotCapped)/window.Seconds()/1024, sent[1], gotFree)

	ceiling := int(window.Seconds()*capped) + burst + size
	if gotCapped > ceiling {
		t.Errorf("capped identity: %d B arrived, above the bucket's %d B", gotCapped, ceiling)
	}
	if floor := int(run.Seconds() * capped / 2); gotCapped < floor {
		t.Errorf("capped identity: %d B arrived, below half its cap (%d B): throttled too hard", gotCapped, floor)
	}
	if gotFree < sent[1]*8/10 {
		t.Errorf("unlimited identity: %d of %d B arrived: it was throttled", gotFree, sent[1])
	}
	if gotFree < 3*gotCapped {
		t.Errorf("unlimited identity got %d B, capped %d B: the cap did not bite", gotFree, gotCapped)
	}
	// The stats count the two allocations and the bytes that went through them (ChannelData or
	// Send indications pass the relay sockets; what the buckets dropped does not count).
	st := s.Stats().Quotas
	if st.Allocations != 2 || st.Allocated != 2 {
		t.Errorf("stats: %d allocations held, %d made; want 2 and 2", st.Allocations, st.Allocated)
	}
	if relayed := int(st.RelayedBytes); relayed < gotCapped+gotFree || relayed > sent[0]+sent[1] {
		t.Errorf("stats: %d B relayed; %d B arrived of %d B sent", relayed, gotCapped+gotFree, sent[0]+sent[1])
	}
}

// listenUDP returns a UDP socket on 127.0.0.1, closed when the test ends.
func listenUDP(t *testing.T) net.PacketConn {
	t.Helper()
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
