package wire

import (
	"encoding/binary"
	"fmt"
)

// MsgVideo is the display message that carries one part of a VP8 frame of a video region
// (docs/PROTOCOL.md, 3.2): a rectangle of the desktop that keeps changing with photographic
// content, encoded once as video for every peer that announced CapVideo.
const MsgVideo byte = 0x06

// CapVideo: the peer decodes VIDEO messages (VP8).
const CapVideo uint32 = 1 << 1

// Limits of VIDEO messages.
const (
	videoHead = 16 // type, flags, x, y, w, h (2 each), frame (4), part, parts
	// MaxVideoParts is the most messages one frame is cut into, so a frame holds at most
	// MaxVideoParts × MaxVideoPart bytes.
	MaxVideoParts = 16
	// MaxVideoPart is the most frame bytes one VIDEO message carries.
	MaxVideoPart = MaxMessage - videoHead
	// MaxVideoFrame is the largest frame VIDEO messages carry.
	MaxVideoFrame = MaxVideoParts * MaxVideoPart
	// VideoLayers is the number of temporal layers (Video.Layer 0 to VideoLayers-1).
	VideoLayers = 3
)

// Video is the header of a VIDEO message: frame Frame of the video of the region X, Y, W, H,
// which a keyframe begins and every later frame continues until a keyframe of another region
// (or a SIZE) ends it. A frame of layer 0 refers to the previous frame of layer 0; a frame of
// layers 1 and 2 to the last frame of layer 0 only, and nothing refers to it, so the relay may
// leave those out for a slow peer. A frame is cut into Parts messages, Part 0 to Parts-1, sent
// in order; the receiver decodes it once it holds them all and draws the whole region.
type Video struct {
	X, Y, W, H  int
	Frame       uint32
	Key         bool
	Layer       int
	Part, Parts int
	Data        []byte // this part's bytes of the frame; aliases the message when decoded
}

// EncodeVideo returns the VIDEO messages that carry frame data of region v (v.Data and the
// part fields are ignored): one per MaxVideoPart bytes, at most MaxVideoParts.
func EncodeVideo(v Video, data []byte) ([][]byte, error) {
	parts := (len(data) + MaxVideoPart - 1) / MaxVideoPart
	if len(data) == 0 || parts > MaxVideoParts {
		return nil, fmt.Errorf("%w: video frame of %d bytes", ErrTooLarge, len(data))
	}
	msgs := make([][]byte, parts)
	for i := range parts {
		chunk := data[i*MaxVideoPart : min(len(data), (i+1)*MaxVideoPart)]
		b := make([]byte, videoHead, videoHead+len(chunk))
		b[0] = MsgVideo
		b[1] = byte(v.Layer) << 1
		if v.Key {
			b[1] |= 1
		}
		for j, n := range [...]int{v.X, v.Y, v.W, v.H} {
			binary.BigEndian.PutUint16(b[2+2*j:], uint16(n))
		}
		binary.BigEndian.PutUint32(b[10:], v.Frame)
		b[14], b[15] = byte(i), byte(parts)
		msgs[i] = append(b, chunk...)
	}
	return msgs, nil
}

// decodeVideo parses a VIDEO message whose region must lie inside w×h.
func decodeVideo(b []byte, w, h int) (Display, error) {
	if len(b) <= videoHead {
		return Display{}, fmt.Errorf("%w: VIDEO of %d bytes", ErrMalformed, len(b))
	}
	flags := b[1]
	v := Video{
		X: int(binary.BigEndian.Uint16(b[2:])), Y: int(binary.BigEndian.Uint16(b[4:])),
		W: int(binary.BigEndian.Uint16(b[6:])), H: int(binary.BigEndian.Uint16(b[8:])),
		Frame: binary.BigEndian.Uint32(b[10:]), Key: flags&1 != 0, Layer: int(flags >> 1),
		Part: int(b[14]), Parts: int(b[15]), Data: b[videoHead:],
	}
	switch {
	case v.Layer >= VideoLayers || (v.Key && v.Layer != 0):
		return Display{}, fmt.Errorf("%w: VIDEO flags 0x%02x", ErrMalformed, flags)
	case v.Parts < 1 || v.Parts > MaxVideoParts || v.Part >= v.Parts:
		return Display{}, fmt.Errorf("%w: VIDEO part %d of %d", ErrMalformed, v.Part, v.Parts)
	case v.W < 1 || v.H < 1 || v.X+v.W > w || v.Y+v.H > h:
		return Display{}, fmt.Errorf("%w: video region %dx%d at %d,%d outside %dx%d", ErrOutOfRange, v.W, v.H, v.X, v.Y, w, h)
	}
	return Display{Type: MsgVideo, Video: v}, nil
}
