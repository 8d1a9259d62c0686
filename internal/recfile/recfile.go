// Package recfile reads and writes peerdesk session recordings (docs/PROTOCOL.md, 5): a
// header, then records of what the server's recorder received — display messages exactly as
// the relay sent them, control messages, input — each with its time since the start and a
// checksum, so that a file cut short by a crash reads up to its last complete record.
package recfile

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// Magic opens every recording: the format's name and version 1.
const Magic = "PDREC01\n"

// Kind says what a record holds.
type Kind byte

// Record kinds.
const (
	// KindMeta is the first record and only there: the Meta, as JSON.
	KindMeta Kind = 0
	// KindDisplay is one display-channel message (docs/PROTOCOL.md, 3.2) as received.
	KindDisplay Kind = 1
	// KindControl is one control message (3.1, JSON) as received: presence, control, desktop.
	KindControl Kind = 2
	// KindInput is one input the relay applied, as the relay's control message of type
	// "input" (relay/wire.Control: Peer, Name, Input).
	KindInput Kind = 3
)

// Limits of the format.
const (
	// MaxData bounds a record's data: a data-channel message is at most 64 KiB.
	MaxData = 256 << 10
	// MaxAt is the latest time a record may have: 2^32-1 milliseconds, about 49 days.
	MaxAt = time.Duration(1<<32-1) * time.Millisecond

	headerLen  = 9 // kind, at (ms), length
	trailerLen = 4 // CRC-32C of the header and the data
)

// Errors of Reader.Next; everything before them was read intact.
var (
	// ErrTruncated: the file ends inside a record — a recording cut short (a crash, or one
	// still being written).
	ErrTruncated = errors.New("recfile: truncated record")
	// ErrCorrupt: a record fails its checksum or its fields are out of range.
	ErrCorrupt = errors.New("recfile: corrupt record")
)

// Meta describes a recording.
type Meta struct {
	// Version is the format's: 1.
	Version int `json:"version"`
	// Session is the live session recorded; ConnectionID and ConnectionName its connection.
	Session        string `json:"session"`
	ConnectionID   int64  `json:"connectionId"`
	ConnectionName string `json:"connectionName"`
	// Started is when the recording started: records' times count from it.
	Started time.Time `json:"started"`
	// Keys says whether key events were recorded (the connection's option).
	Keys bool `json:"keys"`
}

// Record is one record of a recording. Data is only valid until the next call of Next.
type Record struct {
	Kind Kind
	At   time.Duration // since Meta.Started, to the millisecond; never decreasing
	Data []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Writer appends records to a recording. It buffers: Flush hands what it holds to the
// underlying writer. Not safe for concurrent use.
type Writer struct {
	w    *bufio.Writer
	last time.Duration
	size int64
	hdr  [headerLen + trailerLen]byte
}

// NewWriter writes the magic and the meta record to w.
func NewWriter(w io.Writer, m Meta) (*Writer, error) {
	m.Version = 1
	meta, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("recfile: meta: %w", err)
	}
	rw := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	if _, err := rw.w.WriteString(Magic); err != nil {
		return nil, err
	}
	rw.size = int64(len(Magic))
	if err := rw.Write(KindMeta, 0, meta); err != nil {
		return nil, err
	}
	return rw, nil
}

// Write appends one record at time at (rounded down to the millisecond; an earlier time than
// the last record's is taken as the last's).
func (w *Writer) Write(kind Kind, at time.Duration, data []byte) error {
	if len(data) > MaxData {
		return fmt.Errorf("recfile: record of %d bytes over %d", len(data), MaxData)
	}
	at = min(max(at, w.last), MaxAt)
	w.last = at
	h := w.hdr[:headerLen]
	h[0] = byte(kind)
	binary.BigEndian.PutUint32(h[1:], uint32(at/time.Millisecond))
	binary.BigEndian.PutUint32(h[5:], uint32(len(data)))
	sum := crc32.Update(crc32.Checksum(h, castagnoli), castagnoli, data)
	binary.BigEndian.PutUint32(w.hdr[headerLen:], sum)
	if _, err := w.w.Write(h); err != nil {
		return err
	}
	if _, err := w.w.Write(data); err != nil {
		return err
	}
	if _, err := w.w.Write(w.hdr[headerLen:]); err != nil {
		return err
	}
	w.size += int64(headerLen + len(data) + trailerLen)
	return nil
}

// Flush writes the buffered records to the underlying writer.
func (w *Writer) Flush() error { return w.w.Flush() }

// Size is the number of bytes written, buffered ones included.
func (w *Writer) Size() int64 { return w.size }

// Reader reads a recording record by record.
type Reader struct {
	r    *bufio.Reader
	meta bool // the meta record was read
	last time.Duration
	hdr  [headerLen + trailerLen]byte
	buf  []byte
}

// NewReader checks the magic, reads the meta record and returns a reader of the records
// after it.
func NewReader(r io.Reader) (*Reader, Meta, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(rd.r, magic); err != nil || string(magic) != Magic {
		return nil, Meta{}, fmt.Errorf("%w: not a peerdesk recording", ErrCorrupt)
	}
	rec, err := rd.Next()
	if errors.Is(err, io.EOF) {
		err = ErrTruncated
	}
	if err != nil {
		return nil, Meta{}, err
	}
	var m Meta
	if rec.Kind != KindMeta || json.Unmarshal(rec.Data, &m) != nil || m.Version != 1 {
		return nil, Meta{}, fmt.Errorf("%w: bad meta record", ErrCorrupt)
	}
	return rd, m, nil
}

// Next returns the next record: io.EOF after the last complete one at a record boundary,
// ErrTruncated if the file ends inside a record, ErrCorrupt for a damaged one.
func (r *Reader) Next() (Record, error) {
	h := r.hdr[:headerLen]
	if n, err := io.ReadFull(r.r, h); err != nil {
		if n == 0 && errors.Is(err, io.EOF) {
			return Record{}, io.EOF
		}
		return Record{}, ErrTruncated
	}
	kind := Kind(h[0])
	at := time.Duration(binary.BigEndian.Uint32(h[1:])) * time.Millisecond
	n := binary.BigEndian.Uint32(h[5:])
	if n > MaxData || kind > KindInput || at < r.last {
		return Record{}, fmt.Errorf("%w: kind %d, %d bytes at %v", ErrCorrupt, kind, n, at)
	}
	if cap(r.buf) < int(n)+trailerLen {
		r.buf = make([]byte, int(n)+trailerLen)
	}
	b := r.buf[:int(n)+trailerLen]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return Record{}, ErrTruncated
	}
	data := b[:n]
	if crc32.Update(crc32.Checksum(h, castagnoli), castagnoli, data) != binary.BigEndian.Uint32(b[n:]) {
		return Record{}, fmt.Errorf("%w: checksum", ErrCorrupt)
	}
	if kind == KindMeta && r.meta {
		return Record{}, fmt.Errorf("%w: a second meta record", ErrCorrupt)
	}
	r.last, r.meta = at, true
	return Record{Kind: kind, At: at, Data: data}, nil
}
