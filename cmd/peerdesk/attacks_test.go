package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"peerdesk/signaling/proto"
)

// TestAttackSignalingFloods is issue 11's point 1: a read-only guest floods the server with
// offers (3000 of 30 KiB) or with candidates (20,000 small ones). It used to fill the server's
// queue towards the agent, which the server then disconnected: the whole session lost its
// host. Now each socket has its own budget: the flooder gets rate-limited and is closed with
// 1008, again and again from fresh sockets and addresses, and the agent never notices.
func TestAttackSignalingFloods(t *testing.T) {
	sc := newAttackScene(t, false)
	offer := proto.Message{Type: proto.TypeOffer, SDP: "v=0\r\n" + strings.Repeat("a=x\r\n", 30<<10/5)}
	candidate := proto.Message{Type: proto.TypeCandidate, Candidate: &proto.Candidate{Candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host"}}
	for _, f := range []struct {
		name  string
		m     proto.Message
		count int
	}{{"offers", offer, 3000}, {"candidates", candidate, 20000}} {
		t.Run(f.name, func(t *testing.T) {
			sc.under(t, attack{bound: 64 << 20, run: func(ctx context.Context, sc *attackScene) error {
				return floodSockets(ctx, sc, func(a *attacker) error {
					for range f.count {
						if a.send(f.m) != nil {
							break // closed by the server
						}
					}
					return a.expectRateLimited()
				})
			}})
		})
	}
}

// floodSockets opens attacker sockets one after the other, each from a fresh address, and
// runs flood on each, until ctx ends; it returns the first thing an attacker saw wrong, and an
// error if not one socket was flooded.
func floodSockets(ctx context.Context, sc *attackScene, flood func(*attacker) error) error {
	n := 0
	for ; ctx.Err() == nil; n++ {
		a, err := sc.dial(ctx, address(n))
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("socket %d: %w", n, err)
		}
		if err := flood(a); err != nil {
			return fmt.Errorf("socket %d: %w", n, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("no socket flooded")
	}
	return nil
}
