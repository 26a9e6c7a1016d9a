package hep

import (
	"encoding/binary"
	"net/netip"
)

// AppendHEP3 appends p encoded as a HEP3 packet to dst and returns the
// extended slice. Chunks are written in the order Kamailio's siptrace uses:
// family, protocol, source and destination address, source and destination
// port, seconds, microseconds, protocol type, node id; then, only when set,
// auth key, correlation id, VLAN (when p.Has(ChunkVLAN)), node name and the
// payload (0x000f, or 0x0010 when p.Compressed). Addresses use the IPv4
// chunks when Is4 and the IPv6 chunks otherwise; an invalid address is
// left out. Family is written as given, Version and vendor chunks are not
// written.
//
// A HEP3 packet cannot exceed MaxLen bytes: if p would, the payload is
// shortened to fit (then node name, correlation id and auth key if the
// payload alone does not suffice). AppendHEP3 does not allocate when dst has
// enough capacity.
func AppendHEP3(dst []byte, p *Packet) []byte {
	auth, corr, name, payload := p.AuthKey, p.CorrelationID, p.NodeName, p.Payload
	// Always written: family, protocol and proto type (1-byte bodies), the
	// ports (2), seconds, microseconds and node id (4).
	n := hep3HeaderLen + 3*(6+1) + 2*(6+2) + 3*(6+4)
	n += addrChunkLen(p.SrcIP) + addrChunkLen(p.DstIP)
	if p.Has(ChunkVLAN) {
		n += 6 + 2
	}
	n += bytesChunkLen(auth) + bytesChunkLen(corr) + bytesChunkLen(name) + bytesChunkLen(payload)
	// The total length is a uint16: shorten the variable fields, payload first.
	for _, f := range [...]*[]byte{&payload, &name, &corr, &auth} {
		if n <= MaxLen {
			break
		}
		old := bytesChunkLen(*f)
		*f = (*f)[:max(len(*f)-(n-MaxLen), 0)]
		n += bytesChunkLen(*f) - old
	}

	dst = binary.BigEndian.AppendUint32(dst, 0x48455033) // "HEP3"
	dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	dst = append(appendHeader(dst, ChunkFamily, 1), p.Family)
	dst = append(appendHeader(dst, ChunkProtocol, 1), p.Protocol)
	dst = appendAddr(dst, ChunkSrcIPv4, ChunkSrcIPv6, p.SrcIP)
	dst = appendAddr(dst, ChunkDstIPv4, ChunkDstIPv6, p.DstIP)
	dst = binary.BigEndian.AppendUint16(appendHeader(dst, ChunkSrcPort, 2), p.SrcPort)
	dst = binary.BigEndian.AppendUint16(appendHeader(dst, ChunkDstPort, 2), p.DstPort)
	dst = binary.BigEndian.AppendUint32(appendHeader(dst, ChunkTimeSec, 4), p.TimeSec)
	dst = binary.BigEndian.AppendUint32(appendHeader(dst, ChunkTimeUsec, 4), p.TimeUsec)
	dst = append(appendHeader(dst, ChunkProtoType, 1), p.ProtoType)
	dst = binary.BigEndian.AppendUint32(appendHeader(dst, ChunkNodeID, 4), p.NodeID)
	dst = appendBytes(dst, ChunkAuthKey, auth)
	dst = appendBytes(dst, ChunkCorrelationID, corr)
	if p.Has(ChunkVLAN) {
		dst = binary.BigEndian.AppendUint16(appendHeader(dst, ChunkVLAN, 2), p.VLAN)
	}
	dst = appendBytes(dst, ChunkNodeName, name)
	typ := uint16(ChunkPayload)
	if p.Compressed {
		typ = ChunkCompressed
	}
	return appendBytes(dst, typ, payload)
}

// appendHeader appends a vendor-0 chunk header for a body of size bytes.
func appendHeader(dst []byte, typ uint16, size int) []byte {
	return append(dst, 0, 0, byte(typ>>8), byte(typ), byte((size+6)>>8), byte(size+6))
}

// appendBytes appends a variable-size chunk, or nothing for an empty body.
func appendBytes(dst []byte, typ uint16, body []byte) []byte {
	if len(body) == 0 {
		return dst
	}
	return append(appendHeader(dst, typ, len(body)), body...)
}

func bytesChunkLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	return 6 + len(b)
}

func addrChunkLen(a netip.Addr) int {
	switch {
	case a.Is4():
		return 6 + 4
	case a.Is6():
		return 6 + 16
	}
	return 0
}

func appendAddr(dst []byte, typ4, typ6 uint16, a netip.Addr) []byte {
	switch {
	case a.Is4():
		b := a.As4()
		return append(appendHeader(dst, typ4, 4), b[:]...)
	case a.Is6():
		b := a.As16()
		return append(appendHeader(dst, typ6, 16), b[:]...)
	}
	return dst
}
