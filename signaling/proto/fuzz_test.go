package proto

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode checks that Decode never panics, refuses with ErrBadMessage, and that every
// message it accepts survives an Encode/Decode round trip unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"type":"offer","sdp":"v=0\r\n"}`))
	f.Add([]byte(`{"type":"candidate","peer":"p1","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}}`))
	f.Add([]byte(`{"type":"hello","identity":{"name":"alice","role":"owner"},"iceServers":[{"urls":["turn:127.0.0.1"],"username":"u","credential":"c"}]}`))
	f.Add([]byte(`{"type":"error","code":"bad-sdp","message":"<no>"}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("Decode error %v does not wrap ErrBadMessage", err)
			}
			return
		}
		enc := m.Encode()
		if len(enc) > MaxMessage {
			return // escaping grew it past the limit; senders check the size they send
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)) = %v", m, err)
		}
		if enc2 := m2.Encode(); !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the message:\n%s\n%s", enc, enc2)
		}
	})
}
