package hep

import (
	"bytes"
	"testing"
)

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives an AppendHEP3/Decode round trip with the same field values.
func FuzzDecode(f *testing.F) {
	for _, b := range recordedFrames(f) {
		f.Add(b)
	}
	seeds := [][]byte{
		vector1(f), vector2(f), vector2b(f), vector3(f), legacyV1(f), legacyV2(f),
		setTotal(vector3(f), 177), append(vector3(f), 0), noPayload(f),
		replace(f, vector3(f), "000000010007", "000000010005"),
		replace(f, vector3(f), "0000000f0034", "0000000f003e"),
		replace(f, vector3(f), "0000000700084e21", "00000007000a00004e21"),
		replace(f, vector3(f), "484550330"+"0b0", "484550330"+"0b0000000000006"),
		fromHex(f, "484550330006"), {0x02}, build(f, "0000000d0008001e"),
	}
	for _, b := range seeds {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		orig := bytes.Clone(in)
		var p Packet
		if err := Decode(in, &p); err != nil {
			return
		}
		if !bytes.Equal(in, orig) {
			t.Fatal("Decode modified its input")
		}
		enc := AppendHEP3(nil, &p)
		var q Packet
		if err := DecodeHEP3(enc, &q); err != nil {
			t.Fatalf("re-encoded packet does not decode: %v\n%x", err, enc)
		}
		// Fields AppendHEP3 does not write or that depend on the format.
		want, got := fieldsOf(&p), fieldsOf(&q)
		for _, f := range []*fields{&want, &got} {
			f.Version, f.Seen, f.VendorN, f.VendorDropped, f.Trailing, f.KeepAlive = 0, 0, 0, 0, 0, 0
		}
		if len(enc) == MaxLen { // may have been shortened to fit
			if !bytes.HasPrefix(p.Payload, q.Payload) {
				t.Fatalf("shortened payload is not a prefix of the original")
			}
			want.Payload, got.Payload = "", ""
			want.AuthKey, got.AuthKey = "", ""
			want.CorrelationID, got.CorrelationID = "", ""
			want.NodeName, got.NodeName = "", ""
		}
		if got != want {
			t.Fatalf("round trip changed fields\n got %+v\nwant %+v", got, want)
		}
		if q.Has(ChunkVLAN) != p.Has(ChunkVLAN) {
			t.Fatalf("VLAN presence changed")
		}
	})
}
