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
	// Input injects one validated input event from a full-access participant: pointer, wheel,
	// key or clipboard text (wire.MsgClipboard; a source without a clipboard may refuse it). It
	// must not block for long.
	Input(in wire.Input) error
}

// Notifier is a Source that reports more than pixels. The agent looks for it with a type
// assertion and calls Notify once before each Run; the source then calls the functions from
// Run's goroutine, one at a time, and none after Run returned:
//   - desktop when its desktop goes away (available false, with a short reason fit for every
//     participant to read: no addresses, no secrets) or comes back; the desktop is available
//     until told otherwise, and repeating the current state is harmless;
//   - cursor when the desktop's pointer shape changes: an image with alpha whose pixel at
//     hotspot (relative to shape.Rect.Min) marks the pointer position, or nil or an empty image
//     for no visible pointer; the shape is not retained;
//   - clipboard when the desktop's clipboard holds new text (valid UTF-8, at most
//     wire.MaxClipboard bytes).
type Notifier interface {
	Notify(desktop func(available bool, reason string), cursor func(shape *image.NRGBA, hotspot image.Point), clipboard func(text string))
}

// Copier is a Source that knows when a change moved pixels (a scroll, a window dragged). The
// agent calls NotifyCopies once before Run; the source then calls copy from Run's goroutine,
// before the update whose damage holds the destination, once for each rectangle src it moved
// to dst (the destination's top-left corner), in the order it applied them. Peers that hold
// the source pixels then get a COPY instead of the destination's tiles.
type Copier interface {
	NotifyCopies(copy func(src image.Rectangle, dst image.Point))
}

// Demander is a Source that can rest while nobody watches. The agent looks for it with a type
// assertion: it calls SetDemand(false) before Run, then SetDemand(true) when the first peer's
// display stream opens and SetDemand(false) when the last one closes, one call at a time. A
// resting source sends few updates or none; told it is watched again, it sends every pixel
// that changed meanwhile (or the whole frame) at once.
type Demander interface {
	SetDemand(watched bool)
}
