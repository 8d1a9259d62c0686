package signaling

import (
	"context"
	"strconv"
	"time"

	"peerdesk/signaling/proto"
	"peerdesk/signaling/turn"
)

// minICERefresh bounds how often one connection is sent fresh ICE servers.
const minICERefresh = time.Second

// peerICEIdentity and agentICEIdentity name a TURN credential's holder: a peer by its
// WebSocket, in the group of its user, or of its client address for an anonymous guest (the
// TURN server's group quota: fresh sockets do not multiply a holder's share), an agent by its
// connection (turn.AgentIdentityPrefix gives agents their quota).
func peerICEIdentity(p *peer, addr string) string {
	group := "a" + addr
	if p.user != 0 {
		group = "u" + strconv.FormatInt(int64(p.user), 10)
	}
	return "peer-" + string(p.id) + turn.GroupSeparator + group
}

func agentICEIdentity(id int64) string {
	return turn.AgentIdentityPrefix + strconv.FormatInt(id, 10)
}

// iceServers returns the static ICE servers followed by those the provider issues to
// identity, and when the latter expire (zero: never, or no provider).
func (s *Server) iceServers(identity string) ([]proto.ICEServer, time.Time) {
	if s.ice == nil {
		return s.iceStatic, time.Time{}
	}
	issued, expires := s.ice.ICEServers(identity)
	issued = s.clusterTURN(issued)
	return append(append([]proto.ICEServer(nil), s.iceStatic...), issued...), expires
}

// refreshICE sends ws an ice-servers message with fresh credentials for identity at 80% of
// the lifetime of the current ones (expiring at expires), again and again until ctx (ws's
// life) ends. The returned stop waits for that, so call it once ws.serve has returned.
func (s *Server) refreshICE(ctx context.Context, ws conn, identity string, expires time.Time) (stop func()) {
	if expires.IsZero() {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			t := time.NewTimer(max(expires.Sub(s.now())*4/5, minICERefresh))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			var ice []proto.ICEServer
			ice, expires = s.iceServers(identity)
			ws.send(proto.Message{Type: proto.TypeICEServers, ICEServers: ice}.Encode())
		}
	}()
	return func() { <-done }
}
