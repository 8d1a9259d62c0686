package signaling

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/nats-io/nats.go"

	"peerdesk/internal/testnats"
)

// pipeFront is a raw NATS stand-in for a pipe's front end: it sends up and records what comes
// down.
type pipeFront struct {
	t    *testing.T
	nc   *nats.Conn
	id   string
	down chan []byte
	sub  *nats.Subscription
}

func newPipeFront(t *testing.T, url string, answerPings bool) *pipeFront {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f := &pipeFront{t: t, nc: nc, id: newPipeID(), down: make(chan []byte, 64)}
	f.sub, err = nc.Subscribe(pipeDown(f.id), func(m *nats.Msg) {
		if len(m.Data) > 0 && m.Data[0] == pipePing {
			if answerPings {
				_ = m.Respond(nil)
			}
			return
		}
		f.down <- m.Data
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *pipeFront) up(kind byte, data string) {
	f.t.Helper()
	if err := f.nc.Publish(pipeUp(f.id), append([]byte{kind}, data...)); err != nil {
		f.t.Fatal(err)
	}
	_ = f.nc.Flush()
}

func (f *pipeFront) next() []byte {
	f.t.Helper()
	select {
	case d := <-f.down:
		return d
	case <-time.After(5 * time.Second):
		f.t.Fatal("nothing came down the pipe")
	}
	return nil
}

// TestPipeHomeEnd: the home's end of a pipe reads the front's frames in order, writes frames
// and close frames down, answers pings, enforces its read limit and deadline, counts a ping
// reply as a pong, ends when the front says it is gone or stops answering, and a front that
// floods it faster than it reads ends it.
func TestPipeHomeEnd(t *testing.T) {
	url := testnats.Start(t)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	open := func(f *pipeFront) *natsConn {
		t.Helper()
		c, err := openNATSConn(nc, f.id)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.Flush()
		return c
	}

	f := newPipeFront(t, url, true)
	c := open(f)
	f.up(pipeFrame, "one")
	f.up(pipeFrame, "two")
	for _, want := range []string{"one", "two"} {
		if typ, data, err := c.ReadMessage(); err != nil || typ != websocket.TextMessage || string(data) != want {
			t.Fatalf("read %d %q %v, want %q", typ, data, err, want)
		}
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if d := f.next(); string(d) != "mhello" {
		t.Errorf("down: %q", d)
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4001, "replaced"), time.Time{})
	if d := f.next(); d[0] != pipeClose || string(d[3:]) != "replaced" || int(d[1])<<8|int(d[2]) != 4001 {
		t.Errorf("close down: %q", d)
	}
	var pongs atomic.Int32
	c.SetPongHandler(func(string) error { pongs.Add(1); return nil })
	_ = c.WriteControl(websocket.PingMessage, nil, time.Time{})
	deadline := time.Now().Add(5 * time.Second)
	for pongs.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // the pong handler has no event to wait on
	}
	if pongs.Load() != 1 {
		t.Error("a ping the front answered gave no pong")
	}
	if _, err := nc.Request(pipeUp(f.id), []byte{pipePing}, time.Second); err != nil {
		t.Errorf("the home end did not answer a ping: %v", err)
	}
	c.SetReadLimit(4)
	f.up(pipeFrame, "too long")
	if _, _, err := c.ReadMessage(); !errors.Is(err, websocket.ErrReadLimit) {
		t.Errorf("a frame over the read limit: %v", err)
	}

	f = newPipeFront(t, url, true)
	c = open(f)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	start := time.Now()
	if _, _, err := c.ReadMessage(); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("read past its deadline: %v after %v", err, time.Since(start))
	}

	f = newPipeFront(t, url, true)
	c = open(f)
	f.up(pipeGone, "")
	if _, _, err := c.ReadMessage(); !errors.Is(err, errPipeClosed) {
		t.Errorf("read after the front left: %v", err)
	}

	f = newPipeFront(t, url, true)
	c = open(f)
	for i := range pipeQueue + 10 { // nobody reads meanwhile
		f.up(pipeFrame, strings.Repeat("x", i%7+1))
	}
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		t.Fatal("a pipe flooded past its queue did not end")
	}
	if d := f.next(); len(d) != 1 || d[0] != pipeGone {
		t.Errorf("the front of a flooded pipe got %q, want told it is gone", d)
	}
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if !errors.Is(err, errPipeClosed) {
				t.Errorf("a flooded pipe ended with %v", err)
			}
			break
		}
	}

	f = newPipeFront(t, url, true)
	c = open(f)
	_ = f.sub.Unsubscribe() // the front is gone without a word
	_ = f.nc.Flush()
	_ = c.WriteControl(websocket.PingMessage, nil, time.Time{})
	if _, _, err := c.ReadMessage(); !errors.Is(err, errPipeClosed) {
		t.Errorf("read once the front stopped answering pings: %v", err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("late")); !errors.Is(err, errPipeClosed) {
		t.Errorf("write on an ended pipe: %v", err)
	}
	_ = c.Close()
}
