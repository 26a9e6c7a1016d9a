package hep

import "net/netip"

// MaxLen is the largest HEP3 packet: the total length is a uint16.
const MaxLen = 65535

// Generic (vendor 0) chunk types that have a Packet field.
const (
	ChunkFamily        = 0x0001
	ChunkProtocol      = 0x0002
	ChunkSrcIPv4       = 0x0003
	ChunkDstIPv4       = 0x0004
	ChunkSrcIPv6       = 0x0005
	ChunkDstIPv6       = 0x0006
	ChunkSrcPort       = 0x0007
	ChunkDstPort       = 0x0008
	ChunkTimeSec       = 0x0009
	ChunkTimeUsec      = 0x000a
	ChunkProtoType     = 0x000b
	ChunkNodeID        = 0x000c
	ChunkKeepAlive     = 0x000d
	ChunkAuthKey       = 0x000e
	ChunkPayload       = 0x000f
	ChunkCompressed    = 0x0010
	ChunkCorrelationID = 0x0011
	ChunkVLAN          = 0x0012
	ChunkNodeName      = 0x0013
)

// Packet is one decoded HEP packet. Byte-slice fields refer into the buffer
// that was decoded (zero-copy): they are valid only as long as that buffer is.
// A Packet is meant to be reused: Decode resets it before filling it.
type Packet struct {
	Version uint8 // 1, 2 (legacy) or 3 (HEP3/EEP)

	Family   uint8 // chunk 0x0001 as sent (2 = IPv4, 10 = IPv6 on Linux)
	Protocol uint8 // chunk 0x0002: 6 TCP, 17 UDP, 132 SCTP

	SrcIP, DstIP     netip.Addr // chunks 0x0003/0x0005, 0x0004/0x0006; invalid (zero) if absent
	SrcPort, DstPort uint16     // chunks 0x0007, 0x0008

	TimeSec  uint32 // chunk 0x0009
	TimeUsec uint32 // chunk 0x000a

	ProtoType uint8  // chunk 0x000b (payload protocol type; 1 = SIP)
	NodeID    uint32 // chunk 0x000c (capture agent id)
	KeepAlive uint16 // chunk 0x000d (seconds)

	AuthKey       []byte // chunk 0x000e, trailing NULs stripped
	Payload       []byte // chunk 0x000f, or the compressed bytes of 0x0010 when Compressed
	Compressed    bool   // Payload came from chunk 0x0010 (still compressed)
	CorrelationID []byte // chunk 0x0011, trailing NULs stripped
	VLAN          uint16 // chunk 0x0012
	NodeName      []byte // chunk 0x0013, trailing NULs stripped

	// Seen has bit t set for every generic (vendor 0) chunk type t < 64 that
	// was present, so callers can tell "absent" from "zero".
	Seen uint64

	// Vendor holds the first len(Vendor) vendor (vendor id != 0) chunks and
	// chunks of unknown generic types, in wire order; VendorN counts how many
	// are valid, VendorDropped how many more were skipped.
	Vendor        [8]Chunk
	VendorN       int
	VendorDropped int

	// Trailing counts the bytes received after the declared total length
	// (HEP3 only); they are ignored, as Kamailio does.
	Trailing int
}

// Has reports whether a generic chunk of type typ was present.
func (p *Packet) Has(typ uint16) bool {
	return typ < 64 && p.Seen&(1<<typ) != 0
}

// Chunk is a raw chunk reference into the decoded buffer.
type Chunk struct {
	Vendor uint16
	Type   uint16
	Body   []byte
}
