package hep

import (
	"encoding/binary"
	"net/netip"
)

// Decode decodes one HEP packet of any supported format, chosen by its
// first bytes: "HEP3" or "EEP1" for HEP3, 0x01 or 0x02 for legacy HEPv1/v2.
// It resets *p first. On error, p holds what was decoded before the error
// was found (for ErrKeepAlive, ErrNoPayload and ErrNoProtoType that is the
// whole packet, so callers can attribute the drop to a node).
//
// Legacy packets have no framing of their own, so callers should only
// accept them from datagram transports.
func Decode(b []byte, p *Packet) error {
	if len(b) >= 4 && isHEP3Magic(b) {
		return DecodeHEP3(b, p)
	}
	if len(b) > 0 && (b[0] == 1 || b[0] == 2) {
		return DecodeLegacy(b, p)
	}
	*p = Packet{}
	if len(b) < hep3HeaderLen {
		return ErrTooShort
	}
	return ErrBadMagic
}

const hep3HeaderLen = 6

func isHEP3Magic(b []byte) bool {
	return string(b[:4]) == "HEP3" || string(b[:4]) == "EEP1"
}

// DecodeHEP3 decodes a HEP3 packet (magic "HEP3" or "EEP1") into p, which
// it resets first. Bytes after the declared total length are ignored and
// counted in p.Trailing. The packet must carry a non-empty payload and a
// payload protocol type; a packet without a payload that carries a
// keep-alive chunk yields ErrKeepAlive.
func DecodeHEP3(b []byte, p *Packet) error {
	*p = Packet{}
	if len(b) < hep3HeaderLen {
		return ErrTooShort
	}
	if !isHEP3Magic(b) {
		return ErrBadMagic
	}
	total := int(binary.BigEndian.Uint16(b[4:]))
	if total < hep3HeaderLen || total > len(b) {
		return ErrLength
	}
	p.Version = 3
	p.Trailing = len(b) - total
	b = b[:total]

	for rest := b[hep3HeaderLen:total]; len(rest) > 0; {
		if len(rest) < 6 {
			return ErrChunkHeader
		}
		vendor := binary.BigEndian.Uint16(rest)
		typ := binary.BigEndian.Uint16(rest[2:])
		n := int(binary.BigEndian.Uint16(rest[4:]))
		if n < 6 {
			return ErrChunkLength
		}
		if n > len(rest) {
			return ErrChunkOverrun
		}
		body := rest[6:n:n] // capped: appending to a field must not clobber the next chunk
		rest = rest[n:]
		if vendor != 0 {
			p.keep(vendor, typ, body)
			continue
		}
		if err := p.setChunk(typ, body); err != nil {
			return err
		}
	}

	if len(p.Payload) == 0 {
		if p.Has(ChunkKeepAlive) {
			return ErrKeepAlive
		}
		return ErrNoPayload
	}
	if !p.Has(ChunkProtoType) {
		return ErrNoProtoType
	}
	return nil
}

// chunkSize is the body size of the fixed-size generic chunk types (spec
// §10 V7, plus the uint16 keep-alive timer), 0 for the others: a table,
// since every chunk of every packet is checked against it.
var chunkSize = [...]uint8{
	ChunkFamily: 1, ChunkProtocol: 1, ChunkProtoType: 1,
	ChunkSrcPort: 2, ChunkDstPort: 2, ChunkKeepAlive: 2, ChunkVLAN: 2,
	ChunkSrcIPv4: 4, ChunkDstIPv4: 4, ChunkTimeSec: 4, ChunkTimeUsec: 4, ChunkNodeID: 4,
	ChunkSrcIPv6: 16, ChunkDstIPv6: 16,
}

// fixedSize returns the body size of a fixed-size generic chunk type, or 0.
func fixedSize(typ uint16) int {
	if int(typ) < len(chunkSize) {
		return int(chunkSize[typ])
	}
	return 0
}

// setChunk stores the body of a vendor-0 chunk.
func (p *Packet) setChunk(typ uint16, body []byte) error {
	if typ == 0 {
		return ErrChunkTypeZero
	}
	if n := fixedSize(typ); n != 0 && len(body) != n {
		return ErrChunkSize
	}
	if typ < 64 {
		p.Seen |= 1 << typ
	}
	switch typ {
	case ChunkFamily:
		p.Family = body[0]
	case ChunkProtocol:
		p.Protocol = body[0]
	case ChunkSrcIPv4:
		p.SrcIP = netip.AddrFrom4([4]byte(body))
	case ChunkDstIPv4:
		p.DstIP = netip.AddrFrom4([4]byte(body))
	case ChunkSrcIPv6:
		p.SrcIP = netip.AddrFrom16([16]byte(body))
	case ChunkDstIPv6:
		p.DstIP = netip.AddrFrom16([16]byte(body))
	case ChunkSrcPort:
		p.SrcPort = binary.BigEndian.Uint16(body)
	case ChunkDstPort:
		p.DstPort = binary.BigEndian.Uint16(body)
	case ChunkTimeSec:
		p.TimeSec = binary.BigEndian.Uint32(body)
	case ChunkTimeUsec:
		p.TimeUsec = binary.BigEndian.Uint32(body)
	case ChunkProtoType:
		p.ProtoType = body[0]
	case ChunkNodeID:
		p.NodeID = binary.BigEndian.Uint32(body)
	case ChunkKeepAlive:
		p.KeepAlive = binary.BigEndian.Uint16(body)
	case ChunkAuthKey:
		p.AuthKey = trimNUL(body)
	case ChunkPayload:
		p.Payload, p.Compressed = body, false
	case ChunkCompressed:
		p.Payload, p.Compressed = body, true
	case ChunkCorrelationID:
		p.CorrelationID = trimNUL(body)
	case ChunkVLAN:
		p.VLAN = binary.BigEndian.Uint16(body)
	case ChunkNodeName:
		p.NodeName = trimNUL(body)
	default:
		p.keep(0, typ, body)
	}
	return nil
}

// keep records a chunk the Packet has no field for.
func (p *Packet) keep(vendor, typ uint16, body []byte) {
	if p.VendorN == len(p.Vendor) {
		p.VendorDropped++
		return
	}
	p.Vendor[p.VendorN] = Chunk{Vendor: vendor, Type: typ, Body: body}
	p.VendorN++
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// Legacy header sizes (spec §7).
const (
	legacyBaseLen = 8  // version, header length, family, protocol, ports
	legacyTimeLen = 12 // v2: tv_sec, tv_usec, capture id, 2 bytes padding
	legacyIPv4Len = legacyBaseLen + 2*4
	legacyIPv6Len = legacyBaseLen + 2*16
)

// DecodeLegacy decodes a HEPv1 or HEPv2 packet into p, which it resets
// first. As the spec recommends, the HEPv2 time block is read in
// little-endian (the senders' host order), its 16-bit capture id becomes
// NodeID, and ProtoType is set to 1 (SIP) since legacy HEP carries no type.
// The header length byte must be 16 (IPv4) or 40 (IPv6) and agree with the
// family (2 for IPv4; 10, or the BSD values 24, 28, 30 for IPv6). Seen is
// set for the chunk types equivalent to the header fields present.
func DecodeLegacy(b []byte, p *Packet) error {
	*p = Packet{}
	if len(b) < legacyBaseLen {
		return ErrTooShort
	}
	version, hl, family := b[0], int(b[1]), b[2]
	if version != 1 && version != 2 {
		return ErrBadMagic
	}
	switch {
	case hl == legacyIPv4Len && family == 2:
	case hl == legacyIPv6Len && (family == 10 || family == 24 || family == 28 || family == 30):
	default:
		return ErrLegacyHeader
	}
	end := hl
	if version == 2 {
		end += legacyTimeLen
	}
	if len(b) < end {
		return ErrTooShort
	}

	p.Version = version
	p.Family = family
	p.Protocol = b[3]
	p.SrcPort = binary.BigEndian.Uint16(b[4:])
	p.DstPort = binary.BigEndian.Uint16(b[6:])
	seen := uint64(1)<<ChunkFamily | 1<<ChunkProtocol | 1<<ChunkSrcPort | 1<<ChunkDstPort | 1<<ChunkProtoType
	if hl == legacyIPv4Len {
		p.SrcIP = netip.AddrFrom4([4]byte(b[8:12]))
		p.DstIP = netip.AddrFrom4([4]byte(b[12:16]))
		seen |= 1<<ChunkSrcIPv4 | 1<<ChunkDstIPv4
	} else {
		p.SrcIP = netip.AddrFrom16([16]byte(b[8:24]))
		p.DstIP = netip.AddrFrom16([16]byte(b[24:40]))
		seen |= 1<<ChunkSrcIPv6 | 1<<ChunkDstIPv6
	}
	if version == 2 {
		t := b[hl:end]
		p.TimeSec = binary.LittleEndian.Uint32(t)
		p.TimeUsec = binary.LittleEndian.Uint32(t[4:])
		p.NodeID = uint32(binary.LittleEndian.Uint16(t[8:]))
		seen |= 1<<ChunkTimeSec | 1<<ChunkTimeUsec | 1<<ChunkNodeID
	}
	p.ProtoType = 1
	p.Seen = seen
	if len(b) == end {
		return ErrNoPayload
	}
	p.Payload = b[end:len(b):len(b)]
	p.Seen |= 1 << ChunkPayload
	return nil
}
