package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestVideoParts(t *testing.T) {
	frame := bytes.Repeat([]byte("vp8!"), (2*MaxVideoPart+100)/4)
	msgs, err := EncodeVideo(Video{X: 64, Y: 128, W: 1280, H: 720, Frame: 77, Layer: 1}, frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("%d parts, want 3", len(msgs))
	}
	var got []byte
	for i, m := range msgs {
		if len(m) > MaxMessage {
			t.Fatalf("part %d: %d bytes", i, len(m))
		}
		d, err := DecodeDisplay(m, 1920, 1080)
		if err != nil {
			t.Fatal(err)
		}
		v := d.Video
		if d.Type != MsgVideo || v.X != 64 || v.Y != 128 || v.W != 1280 || v.H != 720 || v.Frame != 77 || v.Key || v.Layer != 1 || v.Part != i || v.Parts != 3 {
			t.Fatalf("part %d: %+v", i, d)
		}
		got = append(got, v.Data...)
	}
	if !bytes.Equal(got, frame) {
		t.Fatal("parts do not add up to the frame")
	}
	if _, err := EncodeVideo(Video{W: 1, H: 1}, make([]byte, MaxVideoFrame+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized frame: %v", err)
	}
	key, _ := EncodeVideo(Video{W: 16, H: 16, Key: true}, []byte{1})
	for name, c := range map[string]struct {
		b    []byte
		want error
	}{
		"key in layer 2":  {func() []byte { b := bytes.Clone(key[0]); b[1] = 5; return b }(), ErrMalformed},
		"layer 3":         {func() []byte { b := bytes.Clone(key[0]); b[1] = 6; return b }(), ErrMalformed},
		"part after last": {func() []byte { b := bytes.Clone(key[0]); b[14] = 1; return b }(), ErrMalformed},
		"17 parts":        {func() []byte { b := bytes.Clone(key[0]); b[15] = 17; return b }(), ErrMalformed},
		"no data":         {key[0][:videoHead], ErrMalformed},
		"outside":         {key[0], ErrOutOfRange},
	} {
		if _, err := DecodeDisplay(c.b, 15, 16); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
