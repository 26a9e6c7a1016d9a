package hep

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
)

func TestAppendHEP3RoundTrip(t *testing.T) {
	tests := []struct {
		name string
		p    Packet
	}{
		{"IPv4 minimal", Packet{
			Family: 2, Protocol: 17, SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
			SrcPort: 5060, DstPort: 5080, TimeSec: 1795960845, TimeUsec: 83640, ProtoType: 1, NodeID: 2001,
			Payload: []byte("OPTIONS sip:a@b SIP/2.0\r\n\r\n"),
		}},
		{"IPv6 with every optional field", Packet{
			Family: 10, Protocol: 6, SrcIP: netip.MustParseAddr("2001:db8::1"), DstIP: netip.MustParseAddr("::ffff:10.0.0.2"),
			SrcPort: 1, DstPort: 65535, TimeSec: 1, TimeUsec: 999999, ProtoType: 100, NodeID: 1 << 31,
			AuthKey: []byte("secret"), CorrelationID: []byte("cid@x"), VLAN: 4094, Seen: 1 << ChunkVLAN,
			NodeName: []byte("edge-1"), Payload: []byte{0x78, 0x9c, 0}, Compressed: true,
		}},
		{"no addresses, VLAN 0 present", Packet{ProtoType: 5, Seen: 1 << ChunkVLAN, Payload: []byte("{}")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := AppendHEP3([]byte("prefix"), &tt.p)
			if !bytes.HasPrefix(b, []byte("prefixHEP3")) {
				t.Fatalf("AppendHEP3 did not append: %q", b[:min(len(b), 12)])
			}
			var got Packet
			if err := Decode(b[len("prefix"):], &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := fieldsOf(&tt.p)
			want.Version = 3
			g := fieldsOf(&got)
			g.Seen = 0
			want.Seen = 0
			if g != want {
				t.Errorf("got  %+v\nwant %+v", g, want)
			}
			if got.Has(ChunkVLAN) != tt.p.Has(ChunkVLAN) {
				t.Errorf("VLAN chunk present = %v, want %v", got.Has(ChunkVLAN), tt.p.Has(ChunkVLAN))
			}
		})
	}
}

// Kamailio's siptrace, heplify and vector 1 use the encoder's chunk order,
// so re-encoding their packets must reproduce them byte for byte. Skipped:
// sngrep (ports before addresses) and frames with chunks AppendHEP3 does
// not write (heplify's IP TOS chunk).
func TestAppendHEP3ReproducesAgentFrames(t *testing.T) {
	compared := 0
	for i, in := range append(recordedFrames(t), vector1(t), vector3(t)) {
		var p Packet
		if err := Decode(in, &p); err != nil {
			t.Fatal(err)
		}
		if p.VendorN != 0 || p.NodeID == 131203072 { // sngrep's quirky capture id
			continue
		}
		compared++
		if out := AppendHEP3(nil, &p); !bytes.Equal(out, in) {
			t.Errorf("input %d: re-encoded differs\n got %x\nwant %x", i, out, in)
		}
	}
	// 13+13 Kamailio files, 65 Kamailio and 30 heplify stream frames, 2 vectors.
	if compared != 123 {
		t.Errorf("compared %d frames, want 123", compared)
	}
}

func TestAppendHEP3ShortensToMaxLen(t *testing.T) {
	p := Packet{ProtoType: 1, NodeName: []byte("node"), Payload: []byte(strings.Repeat("x", MaxLen))}
	b := AppendHEP3(nil, &p)
	if len(b) != MaxLen {
		t.Fatalf("encoded %d bytes, want %d", len(b), MaxLen)
	}
	var got Packet
	if err := Decode(b, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.NodeName) != "node" || len(got.Payload) != MaxLen-(6+3*7+2*8+3*10)-(6+4)-6 {
		t.Errorf("node name %q, payload %d bytes", got.NodeName, len(got.Payload))
	}

	// A payload that cannot fit at all makes room for nothing else.
	p = Packet{ProtoType: 1, AuthKey: []byte(strings.Repeat("k", MaxLen)), Payload: []byte("x")}
	if b := AppendHEP3(nil, &p); len(b) != MaxLen {
		t.Fatalf("encoded %d bytes, want %d", len(b), MaxLen)
	}
}

func TestAppendHEP3DoesNotAllocate(t *testing.T) {
	var p Packet
	if err := Decode(vector2(t), &p); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, MaxLen)
	if n := testing.AllocsPerRun(100, func() { buf = AppendHEP3(buf[:0], &p) }); n != 0 {
		t.Errorf("%v allocs per AppendHEP3, want 0", n)
	}
}
