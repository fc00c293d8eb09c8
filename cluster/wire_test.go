package cluster

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sessiond/sessiond"
)

var wireRecords = []sessiond.Record{
	{Key: "sess:abc", Value: []byte(`{"user":"alice"}`), Expires: 1795392422784, Version: sessiond.Version{Time: 1 << 40, Node: 3}},
	{Key: "", Value: []byte{}, Version: sessiond.Version{Time: 1, Node: 1}},
	{Key: "k", Deleted: true, Expires: 1795392422784, Version: sessiond.Version{Time: 5, Node: 1 << 31}},
	{Key: "mc", Value: []byte("v\r\n"), Flags: 0xffffffff, Expires: -1, Version: sessiond.Version{Time: 1<<64 - 1, Node: 1<<32 - 1}},
}

func TestRecordRoundTrip(t *testing.T) {
	var b []byte
	for i := range wireRecords {
		b = appendRecord(b, &wireRecords[i])
	}
	d := decoder{b: b}
	for _, want := range wireRecords {
		var got sessiond.Record
		d.record(&got, 1<<20)
		if d.err != nil {
			t.Fatalf("decoding %+v: %v", want, d.err)
		}
		if got.Key != want.Key || !bytes.Equal(got.Value, want.Value) || got.Expires != want.Expires ||
			got.Flags != want.Flags || got.Version != want.Version || got.Deleted != want.Deleted {
			t.Errorf("decoded %+v, want %+v", got, want)
		}
	}
	if len(d.b) != 0 {
		t.Errorf("%d bytes left over", len(d.b))
	}
}

func TestRecordLimits(t *testing.T) {
	big := sessiond.Record{Key: "k", Value: make([]byte, 100), Version: sessiond.Version{Time: 1, Node: 1}}
	b := appendRecord(nil, &big)
	var rec sessiond.Record
	d := decoder{b: b}
	if d.record(&rec, 99); !errors.Is(d.err, errMalformed) {
		t.Errorf("a 100-byte value with a limit of 99: %v, want errMalformed", d.err)
	}
	for n := range len(b) {
		d := decoder{b: b[:n]}
		if d.record(&rec, 1<<20); !errors.Is(d.err, errMalformed) {
			t.Errorf("record cut to %d of %d bytes decoded: %v", n, len(b), d.err)
		}
	}
	zero := sessiond.Record{Key: "k"}
	d = decoder{b: appendRecord(nil, &zero)}
	if d.record(&rec, 1<<20); !errors.Is(d.err, errMalformed) {
		t.Errorf("a record without a version decoded: %v", d.err)
	}
}

// FuzzRecord: any bytes decode to records or errMalformed, never a panic,
// and the records that decode encode to bytes that decode to them again.
func FuzzRecord(f *testing.F) {
	for i := range wireRecords {
		f.Add(appendRecord(nil, &wireRecords[i]))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := decodeAll(data)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("error %v is not errMalformed", err)
			}
			return
		}
		var out []byte
		for i := range recs {
			out = appendRecord(out, &recs[i])
		}
		again, err := decodeAll(out)
		if err != nil || len(again) != len(recs) {
			t.Fatalf("re-encoded records: %d of %d, %v", len(again), len(recs), err)
		}
		for i := range recs {
			a, b := recs[i], again[i]
			if a.Key != b.Key || !bytes.Equal(a.Value, b.Value) || a.Expires != b.Expires || a.Flags != b.Flags || a.Version != b.Version || a.Deleted != b.Deleted {
				t.Fatalf("record %d: %+v re-encoded as %+v", i, a, b)
			}
		}
	})
}

func decodeAll(b []byte) ([]sessiond.Record, error) {
	d := decoder{b: b}
	var recs []sessiond.Record
	for len(d.b) > 0 {
		var rec sessiond.Record
		if d.record(&rec, 1<<16); d.err != nil {
			return nil, d.err
		}
		recs = append(recs, rec)
	}
	return recs, nil
}
