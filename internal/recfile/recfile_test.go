package recfile

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"testing"
	"time"
)

// sample writes a recording of three records and returns it.
func sample(t testing.TB) ([]byte, Meta) {
	t.Helper()
	var buf bytes.Buffer
	m := Meta{Session: "s1", ConnectionID: 7, ConnectionName: "Desk", Started: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Keys: true}
	w, err := NewWriter(&buf, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{
		{KindDisplay, 0, []byte{1, 0, 10, 0, 10}},
		{KindControl, 1500 * time.Millisecond, []byte(`{"type":"presence"}`)},
		{KindDisplay, 1400 * time.Millisecond, []byte{3, 0, 0, 0, 1}}, // earlier: taken as 1.5 s
		{KindInput, 2 * time.Second, []byte(`{"type":"input","peer":"p","name":"Ana","input":"AQ=="}`)},
	} {
		if err := w.Write(r.Kind, r.At, r.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Size() != int64(buf.Len()) {
		t.Fatalf("Size %d, wrote %d", w.Size(), buf.Len())
	}
	return buf.Bytes(), m
}

// readAll reads every record of b and the error that ended the reading.
func readAll(b []byte) ([]Record, error) {
	r, _, err := NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	var out []Record
	for {
		rec, err := r.Next()
		if err != nil {
			return out, err
		}
		rec.Data = bytes.Clone(rec.Data)
		out = append(out, rec)
	}
}

func TestRoundTrip(t *testing.T) {
	b, m := sample(t)
	_, got, err := NewReader(bytes.NewReader(b))
	if err != nil || got.Session != m.Session || got.ConnectionName != "Desk" || !got.Started.Equal(m.Started) || !got.Keys || got.Version != 1 {
		t.Fatalf("meta %+v, %v", got, err)
	}
	recs, err := readAll(b)
	if !errors.Is(err, io.EOF) || len(recs) != 4 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if recs[2].At != 1500*time.Millisecond || recs[3].Kind != KindInput || string(recs[1].Data) != `{"type":"presence"}` {
		t.Fatalf("records %+v", recs)
	}
}

// TestTruncated: a file cut anywhere reads intact up to its last complete record.
func TestTruncated(t *testing.T) {
	b, _ := sample(t)
	full, _ := readAll(b)
	for cut := len(Magic) + 1; cut < len(b); cut++ {
		recs, err := readAll(b[:cut])
		if err == nil || (!errors.Is(err, ErrTruncated) && !errors.Is(err, io.EOF)) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		for i, r := range recs {
			if !bytes.Equal(r.Data, full[i].Data) || r.At != full[i].At {
				t.Fatalf("cut at %d: record %d differs", cut, i)
			}
		}
	}
}

func TestCorrupt(t *testing.T) {
	b, _ := sample(t)
	if _, _, err := NewReader(bytes.NewReader([]byte("not a recording"))); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bad magic: %v", err)
	}
	bad := bytes.Clone(b)
	bad[len(bad)-6] ^= 0xff // inside the last record's data
	recs, err := readAll(bad)
	if !errors.Is(err, ErrCorrupt) || len(recs) != 3 {
		t.Errorf("flipped byte: %d records, %v", len(recs), err)
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Meta{Session: "s"})
	if err := w.Write(KindDisplay, 0, make([]byte, MaxData+1)); err == nil {
		t.Error("a record over MaxData was written")
	}
	_ = w.Write(KindMeta, 0, []byte(`{"version":1}`))
	_ = w.Flush()
	if recs, err := readAll(buf.Bytes()); !errors.Is(err, ErrCorrupt) || len(recs) != 0 {
		t.Errorf("a second meta record: %d records, %v", len(recs), err)
	}
}

// FuzzReader: no input makes the reader panic, loop or allocate beyond MaxData per record, and
// whatever it reads has non-decreasing times.
func FuzzReader(f *testing.F) {
	b, _ := sample(f)
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readAll(data)
		if err == nil {
			t.Fatal("reading ended without an error")
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].At < recs[i-1].At {
				t.Fatalf("record %d at %v before %v", i, recs[i].At, recs[i-1].At)
			}
		}
	})
}

var update = flag.Bool("update", false, "rewrite testdata/sample.pdrec")

// TestGolden: the sample recording is byte for byte testdata/sample.pdrec, which the page's
// reader is tested against (web/e2e/recording.test.mjs).
func TestGolden(t *testing.T) {
	b, _ := sample(t)
	const golden = "testdata/sample.pdrec"
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || !bytes.Equal(b, want) {
		t.Fatalf("sample differs from %s (%v): run go test -update", golden, err)
	}
}
