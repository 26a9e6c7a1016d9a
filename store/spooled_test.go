package store

import (
	"bytes"
	"testing"
	"time"
)

func spooledBatch() *batch {
	b := &batch{table: tCall}
	for i, r := range []Row{
		{SID: []byte("a"), CreateDate: time.UnixMicro(1700000000000001), ProtocolHeader: []byte(`{"x":1}`), DataHeader: []byte(`{}`), Raw: []byte("INVITE")},
		{SID: []byte(""), CreateDate: time.UnixMicro(-5), ProtocolHeader: nil, DataHeader: []byte(`{"y":"z"}`), Raw: []byte("")},
		{SID: []byte("ccc"), CreateDate: time.UnixMicro(42), ProtocolHeader: []byte(`{}`), DataHeader: []byte(`{}`), Raw: []byte("BYE\x00")},
	} {
		_ = i
		b.add(&r)
	}
	return b
}

// TestSpooledRoundTrip: a selection of a batch comes back from its spool
// encoding field for field, with its mark.
func TestSpooledRoundTrip(t *testing.T) {
	b := spooledBatch()
	for _, tc := range []struct {
		sel   []int32
		maybe *mark
	}{
		{[]int32{0, 1, 2}, nil},
		{[]int32{2}, &mark{id: "w-0011223344556677", seq: 99}},
		{[]int32{0, 2}, nil},
	} {
		p := appendSpooled(nil, b, tc.sel, tc.maybe)
		var got batch
		maybe, err := decodeSpooled(p, &got)
		if err != nil {
			t.Fatalf("sel %v: %v", tc.sel, err)
		}
		if (maybe == nil) != (tc.maybe == nil) || maybe != nil && *maybe != *tc.maybe {
			t.Errorf("sel %v: mark %v, want %v", tc.sel, maybe, tc.maybe)
		}
		if got.table != b.table || len(got.rows) != len(tc.sel) {
			t.Fatalf("sel %v: table %d, %d rows", tc.sel, got.table, len(got.rows))
		}
		for j, i := range tc.sel {
			s1, p1, d1, r1 := b.fields(i)
			s2, p2, d2, r2 := got.fields(int32(j))
			if !bytes.Equal(s1, s2) || !bytes.Equal(p1, p2) || !bytes.Equal(d1, d2) || !bytes.Equal(r1, r2) || b.rows[i].us != got.rows[j].us {
				t.Errorf("sel %v row %d differs", tc.sel, j)
			}
		}
	}
}

// FuzzDecodeSpooled: whatever the bytes, decoding returns an error or a
// batch whose every field lies inside the record, and re-encoding that
// batch gives the same bytes back.
func FuzzDecodeSpooled(f *testing.F) {
	b := spooledBatch()
	f.Add(appendSpooled(nil, b, []int32{0, 1, 2}, nil))
	f.Add(appendSpooled(nil, b, []int32{1}, &mark{id: "spool-ab", seq: 1 << 41}))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 7, 1, 255})
	f.Fuzz(func(t *testing.T, p []byte) {
		var got batch
		maybe, err := decodeSpooled(p, &got)
		if err != nil {
			return
		}
		sel := got.all()
		for _, i := range sel {
			got.fields(i) // panics if out of range
		}
		again := appendSpooled(nil, &got, append([]int32(nil), sel...), maybe)
		if !bytes.Equal(again, p) {
			t.Fatalf("re-encoding differs:\n%x\n%x", again, p)
		}
	})
}
