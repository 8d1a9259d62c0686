package relay

import (
	"context"
	"image"

	"peerdesk/relay/wire"
)

// Source is a desktop the relay serves: the demo desktop or a VNC server.
type Source interface {
	// Run captures the desktop until ctx ends, calling update with the whole framebuffer and
	// the rectangles changed since the previous call. The first call, and any call whose frame
	// bounds differ from the previous one (a resize), count as a full change. update copies what
	// it needs before returning; frame is not retained. Run returns ctx.Err() or the reason the
	// desktop is unavailable.
	Run(ctx context.Context, update func(frame *image.RGBA, damage []image.Rectangle)) error
	// Input injects one validated input event from a full-access participant; it must not
	// block for long.
	Input(in wire.Input) error
}
