package hep

import (
	"errors"
	"net/netip"
	"testing"
)

// fields is a comparable snapshot of a Packet.
type fields struct {
	Version                uint8
	Family, Protocol       uint8
	SrcIP, DstIP           netip.Addr
	SrcPort, DstPort       uint16
	TimeSec, TimeUsec      uint32
	ProtoType              uint8
	NodeID                 uint32
	KeepAlive              uint16
	AuthKey, Payload       string
	Compressed             bool
	CorrelationID          string
	VLAN                   uint16
	NodeName               string
	Seen                   uint64
	VendorN, VendorDropped int
	Trailing               int
}

func fieldsOf(p *Packet) fields {
	return fields{
		Version: p.Version, Family: p.Family, Protocol: p.Protocol,
		SrcIP: p.SrcIP, DstIP: p.DstIP, SrcPort: p.SrcPort, DstPort: p.DstPort,
		TimeSec: p.TimeSec, TimeUsec: p.TimeUsec, ProtoType: p.ProtoType,
		NodeID: p.NodeID, KeepAlive: p.KeepAlive, AuthKey: string(p.AuthKey),
		Payload: string(p.Payload), Compressed: p.Compressed,
		CorrelationID: string(p.CorrelationID), VLAN: p.VLAN, NodeName: string(p.NodeName),
		Seen: p.Seen, VendorN: p.VendorN, VendorDropped: p.VendorDropped, Trailing: p.Trailing,
	}
}

func seen(types ...uint16) uint64 {
	var s uint64
	for _, t := range types {
		s |= 1 << t
	}
	return s
}

var basicSeen = seen(ChunkFamily, ChunkProtocol, ChunkSrcPort, ChunkDstPort,
	ChunkTimeSec, ChunkTimeUsec, ChunkProtoType, ChunkNodeID, ChunkPayload)

func TestDecodeSpecVectors(t *testing.T) {
	v4src, v4dst := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.20")
	v6src, v6dst := netip.MustParseAddr("2001:db8::20"), netip.MustParseAddr("2001:db8::10")
	vector2Want := fields{
		Version: 3, Family: 10, Protocol: 6, SrcIP: v6src, DstIP: v6dst,
		SrcPort: 5060, DstPort: 40312, TimeSec: 1700000000, TimeUsec: 124456,
		ProtoType: 1, NodeID: 2002, AuthKey: "myHep", Payload: vector2Payload,
		CorrelationID: "alegid-77", VLAN: 100, NodeName: "edge-1",
		Seen:    basicSeen | seen(ChunkSrcIPv6, ChunkDstIPv6, ChunkAuthKey, ChunkCorrelationID, ChunkVLAN, ChunkNodeName, 0x17),
		VendorN: 2,
	}
	tests := []struct {
		name       string
		in         []byte
		want       fields
		wantVendor []Chunk
	}{
		{
			name: "vector 1 IPv4 UDP INVITE",
			in:   vector1(t),
			want: fields{
				Version: 3, Family: 2, Protocol: 17, SrcIP: v4src, DstIP: v4dst,
				SrcPort: 5060, DstPort: 5060, TimeSec: 1700000000, TimeUsec: 123456,
				ProtoType: 1, NodeID: 2001, Payload: vector1Payload,
				Seen: basicSeen | seen(ChunkSrcIPv4, ChunkDstIPv4),
			},
		},
		{
			name:       "vector 2 IPv6 TCP with optional, vendor and unknown chunks",
			in:         vector2(t),
			want:       vector2Want,
			wantVendor: []Chunk{{2, 0x0101, []byte{0xbe, 0xef}}, {0, 0x17, []byte{0x18}}},
		},
		{
			name:       "vector 2b vendor chunk with a generic type number is skipped",
			in:         vector2b(t),
			want:       vector2Want,
			wantVendor: []Chunk{{2, 0x0001, []byte{0xbe, 0xef}}, {0, 0x17, []byte{0x18}}},
		},
		{
			name: "vector 3 RTCP JSON with correlation id",
			in:   vector3(t),
			want: fields{
				Version: 3, Family: 2, Protocol: 17, SrcIP: v4src, DstIP: v4dst,
				SrcPort: 20001, DstPort: 30001, TimeSec: 1700000005, TimeUsec: 0,
				ProtoType: 5, NodeID: 2001, Payload: vector3Payload,
				CorrelationID: "a84b4c76e66710@192.0.2.10",
				Seen:          basicSeen | seen(ChunkSrcIPv4, ChunkDstIPv4, ChunkCorrelationID),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := Decode(tt.in, &p); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := fieldsOf(&p); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if p.VendorN != len(tt.wantVendor) {
				t.Fatalf("VendorN = %d, want %d", p.VendorN, len(tt.wantVendor))
			}
			for i, c := range tt.wantVendor {
				g := p.Vendor[i]
				if g.Vendor != c.Vendor || g.Type != c.Type || string(g.Body) != string(c.Body) {
					t.Errorf("Vendor[%d] = %+v, want %+v", i, g, c)
				}
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"N1 total length one more than received", setTotal(vector3(t), 177), ErrLength},
		{"N2 chunk length below 6", replace(t, vector3(t), "000000010007", "000000010005"), ErrChunkLength},
		{"N3 payload chunk overruns the packet", replace(t, vector3(t), "0000000f0034", "0000000f003e"), ErrChunkOverrun},
		{"N4 src port chunk with a 4-byte body", replace(t, vector3(t), "0000000700084e21", "00000007000a00004e21"), ErrChunkSize},
		{"N5 no payload chunk", noPayload(t), ErrNoPayload},
		{"N6 type-0 chunk", replace(t, vector3(t), "484550330"+"0b0", "484550330"+"0b0000000000006"), ErrChunkTypeZero},
		{"N7 header only", fromHex(t, "484550330006"), ErrNoPayload},
		{"N9 single byte", []byte{0x02}, ErrTooShort},
		{"empty input", nil, ErrTooShort},
		{"HEP3 magic without length", []byte("HEP3"), ErrTooShort},
		{"unknown magic", []byte("HEP2\x00\x06"), ErrBadMagic},
		{"total length below 6", setTotal(vector3(t), 5), ErrLength},
		{"fewer than 6 bytes left for a chunk header", build(t, "000000"), ErrChunkHeader},
		{"IPv6 address chunk with 4 bytes", replace(t, vector3(t), "00000003000a", "00000005000a"), ErrChunkSize},
		{"keep-alive without payload", fromHex(t, "48455033000e"+"0000000d0008001e"), ErrKeepAlive},
		{"empty payload chunk", replace(t, vector3(t), bytesChunk(ChunkPayload, vector3Payload), "0000000f0006"), ErrNoPayload},
		{"empty payload chunk with keep-alive", build(t, "0000000d0008001e", "0000000f0006"), ErrKeepAlive},
		{"payload without protocol type", replace(t, vector3(t), "0000000b000705", ""), ErrNoProtoType},
		{"legacy header length 17", patch(t, legacyV1(t), "0110", "0111"), ErrLegacyHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := Decode(tt.in, &p); !errors.Is(err, tt.err) {
				t.Fatalf("Decode = %v, want %v", err, tt.err)
			}
		})
	}
}

// noPayload is spec N5: vector 1 without its payload chunk.
func noPayload(tb testing.TB) []byte {
	b := vector1(tb)[:0x5d]
	return setTotal(b, len(b))
}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name  string
		in    []byte
		check func(*Packet) bool
	}{
		{"N1b trailing byte is ignored and counted", append(vector3(t), 0),
			func(p *Packet) bool { return p.Trailing == 1 && string(p.Payload) == vector3Payload }},
		{"N8 SIP without CSeq is not the HEP layer's concern",
			replace(t, vector1(t), bytesChunk(ChunkPayload, vector1Payload), bytesChunk(ChunkPayload, noCSeq(vector1Payload))),
			func(p *Packet) bool { return string(p.Payload) == noCSeq(vector1Payload) }},
		{"EEP1 alias", append([]byte("EEP1"), vector3(t)[4:]...),
			func(p *Packet) bool { return p.Version == 3 && string(p.Payload) == vector3Payload }},
		{"compressed payload chunk", replace(t, vector3(t), "0000000f", "00000010"),
			func(p *Packet) bool { return p.Compressed && string(p.Payload) == vector3Payload }},
		{"duplicate chunks: last wins", replace(t, vector3(t), "0000000c000a000007d1", "0000000c000a000007d1"+"0000000c000a0000002a"+"0000000f0007"+"78"),
			func(p *Packet) bool { return p.NodeID == 42 && string(p.Payload) == vector3Payload }},
		{"duplicate payload: last wins over compressed", replace(t, vector3(t), "0000000f", "000000100007780000000f"),
			func(p *Packet) bool { return !p.Compressed && string(p.Payload) == vector3Payload }},
		{"trailing NULs stripped from text fields",
			build(t, "0000000b000701", bytesChunk(ChunkAuthKey, "k\x00\x00"), bytesChunk(ChunkNodeName, "n\x00"),
				bytesChunk(ChunkCorrelationID, "\x00"), bytesChunk(ChunkPayload, "x\x00")),
			func(p *Packet) bool {
				return string(p.AuthKey) == "k" && string(p.NodeName) == "n" && len(p.CorrelationID) == 0 &&
					p.Has(ChunkCorrelationID) && string(p.Payload) == "x\x00"
			}},
		{"vendor chunk with a bad size for its generic type number is skipped", replace(t, vector3(t), "000000010007", "000300010006"+"000000010007"),
			func(p *Packet) bool { return p.VendorN == 1 && p.Vendor[0].Vendor == 3 && len(p.Vendor[0].Body) == 0 }},
		{"more than 8 kept chunks are counted", replace(t, vector3(t), "000000010007", strings9("000500200006")+"000000010007"),
			func(p *Packet) bool { return p.VendorN == 8 && p.VendorDropped == 1 }},
		{"family byte is kept as sent", replace(t, vector3(t), "00000001000702", "0000000100071e"),
			func(p *Packet) bool { return p.Family == 30 && p.SrcIP.Is4() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := Decode(tt.in, &p); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !tt.check(&p) {
				t.Errorf("unexpected decode %+v", fieldsOf(&p))
			}
		})
	}
}

func strings9(s string) string {
	var out string
	for range 9 {
		out += s
	}
	return out
}

func noCSeq(s string) string {
	const line = "CSeq: 314159 INVITE\r\n"
	for i := 0; i+len(line) <= len(s); i++ {
		if s[i:i+len(line)] == line {
			return s[:i] + s[i+len(line):]
		}
	}
	panic("no CSeq line")
}

func TestDecodeResetsPacket(t *testing.T) {
	var p Packet
	if err := Decode(vector2(t), &p); err != nil {
		t.Fatal(err)
	}
	if err := Decode(vector1(t), &p); err != nil {
		t.Fatal(err)
	}
	if p.NodeName != nil || p.AuthKey != nil || p.VendorN != 0 || p.Has(ChunkVLAN) {
		t.Errorf("fields of the previous packet survived: %+v", fieldsOf(&p))
	}
}

func TestDecodeLegacy(t *testing.T) {
	v4src, v4dst := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("198.51.100.20")
	legacySeen := seen(ChunkFamily, ChunkProtocol, ChunkSrcIPv4, ChunkDstIPv4, ChunkSrcPort, ChunkDstPort, ChunkProtoType, ChunkPayload)
	v6 := append(fromHex(t, "022802111f40"+"13c4"+
		"20010db8000000000000000000000020"+"20010db8000000000000000000000010"+
		"00f1536540e20100d1070000"), "x"...)
	tests := []struct {
		name string
		in   []byte
		want fields
	}{
		{"v2 IPv4 little-endian time block", legacyV2(t), fields{
			Version: 2, Family: 2, Protocol: 17, SrcIP: v4src, DstIP: v4dst, SrcPort: 5060, DstPort: 5060,
			TimeSec: 1700000000, TimeUsec: 123456, ProtoType: 1, NodeID: 2001, Payload: vector1Payload,
			Seen: legacySeen | seen(ChunkTimeSec, ChunkTimeUsec, ChunkNodeID),
		}},
		{"v1 IPv4 no time block", legacyV1(t), fields{
			Version: 1, Family: 2, Protocol: 17, SrcIP: v4src, DstIP: v4dst, SrcPort: 5060, DstPort: 5060,
			ProtoType: 1, Payload: vector1Payload, Seen: legacySeen,
		}},
		{"v2 IPv6 BSD family", patch(t, v6, "02280211", "02281e11"), fields{
			Version: 2, Family: 30, Protocol: 17, SrcIP: netip.MustParseAddr("2001:db8::20"), DstIP: netip.MustParseAddr("2001:db8::10"),
			SrcPort: 8000, DstPort: 5060, TimeSec: 1700000000, TimeUsec: 123456, ProtoType: 1, NodeID: 2001, Payload: "x",
			Seen: legacySeen&^seen(ChunkSrcIPv4, ChunkDstIPv4) | seen(ChunkSrcIPv6, ChunkDstIPv6, ChunkTimeSec, ChunkTimeUsec, ChunkNodeID),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := Decode(tt.in, &p); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := fieldsOf(&p); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeLegacyRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		err  error
	}{
		{"shorter than the base header", []byte{1, 16, 2, 17}, ErrTooShort},
		{"v1 shorter than its address block", legacyV1(t)[:15], ErrTooShort},
		{"v2 shorter than its time block", legacyV2(t)[:27], ErrTooShort},
		{"v2 header only", legacyV2(t)[:28], ErrNoPayload},
		{"v1 header only", legacyV1(t)[:16], ErrNoPayload},
		{"header length 40 with family 2", patch(t, legacyV1(t), "0110", "0128"), ErrLegacyHeader},
		{"header length 16 with family 10", patch(t, legacyV1(t), "01100211", "01100a11"), ErrLegacyHeader},
		{"header length 0", patch(t, legacyV1(t), "0110", "0100"), ErrLegacyHeader},
		{"unknown family", patch(t, legacyV1(t), "01100211", "01100711"), ErrLegacyHeader},
		{"version 3 is not legacy", patch(t, legacyV1(t), "0110", "0310"), ErrBadMagic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			if err := DecodeLegacy(tt.in, &p); !errors.Is(err, tt.err) {
				t.Fatalf("DecodeLegacy = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestDecodeHEP3RejectsLegacy(t *testing.T) {
	var p Packet
	if err := DecodeHEP3(legacyV2(t), &p); err != ErrBadMagic {
		t.Fatalf("DecodeHEP3(legacy) = %v, want ErrBadMagic", err)
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	inputs := map[string][]byte{
		"vector 1": vector1(t), "vector 2": vector2(t), "vector 3": vector3(t),
		"legacy v2": legacyV2(t), "legacy v1": legacyV1(t),
		"N1": setTotal(vector3(t), 177), "N5": noPayload(t), "N9": {2},
		"bad magic":    []byte("GET / HTTP/1.1\r\n"),
		"keep-alive":   build(t, "0000000d0008001e"),
		"chunk size":   replace(t, vector3(t), "0000000700084e21", "00000007000a00004e21"),
		"legacy short": legacyV2(t)[:20],
	}
	var p Packet
	for name, in := range inputs {
		if n := testing.AllocsPerRun(100, func() { _ = Decode(in, &p) }); n != 0 {
			t.Errorf("%s: %v allocs per Decode, want 0", name, n)
		}
	}
}
