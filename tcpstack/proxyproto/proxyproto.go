package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/hepd/hepd/internal/digits"
)

// Header sizes from the PROXY protocol specification (haproxy
// doc/proxy-protocol.txt).
const (
	// MaxV1Len is the longest v1 line, "PROXY" ... CRLF included.
	MaxV1Len = 107
	// V2HeaderLen is the fixed part of a v2 header: signature, version and
	// command, family and transport, 16-bit length.
	V2HeaderLen = 16
	// MaxV2Len is the longest v2 header: the fixed part plus the largest
	// length the 16-bit field can declare.
	MaxV2Len = V2HeaderLen + 0xffff
	// MaxLen is the longest header of either version; a buffer this long
	// never yields ErrIncomplete.
	MaxLen = MaxV2Len
)

// v2Sig is the 12-byte v2 signature; it cannot occur at the start of a v1
// line or of a SIP or HEP3 message.
var v2Sig = [12]byte{0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a}

const v1Prefix = "PROXY "

// Sentinel errors. A malformed header returns an *InvalidError, which
// matches ErrInvalid with errors.Is.
var (
	// ErrIncomplete: b is a proper prefix of a header; read more bytes.
	ErrIncomplete = errors.New("proxyproto: incomplete header")
	// ErrNotProxy: b does not begin with a v1 "PROXY " or the v2 signature.
	ErrNotProxy = errors.New("proxyproto: not a PROXY protocol header")
	// ErrInvalid: b begins like a PROXY header but is malformed.
	ErrInvalid = errors.New("proxyproto: invalid header")
)

// InvalidError says what is wrong with a malformed header.
type InvalidError struct {
	Version int    // 1 or 2
	Reason  string // a constant phrase, e.g. "source port out of range"
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("proxyproto: invalid v%d header: %s", e.Version, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// invalid is the only place errors allocate: the success path never does.
func invalid(version int, reason string) error {
	return &InvalidError{Version: version, Reason: reason}
}

// Transport is the transport protocol the proxied connection used.
type Transport uint8

const (
	// TransportUnspec: v1 UNKNOWN, v2 LOCAL or v2 UNSPEC.
	TransportUnspec Transport = iota
	// TransportTCP: v1 TCP4/TCP6; v2 STREAM (0x1 in the low nibble).
	TransportTCP
	// TransportUDP: v2 DGRAM (0x2 in the low nibble).
	TransportUDP
)

func (t Transport) String() string {
	switch t {
	case TransportTCP:
		return "tcp"
	case TransportUDP:
		return "udp"
	}
	return "unspec"
}

// Header is a parsed PROXY protocol header.
type Header struct {
	Version int // 1 or 2
	// Local: the header carries no usable address (v1 UNKNOWN, v2 LOCAL
	// command, v2 AF_UNSPEC or AF_UNIX); keep the connection's own
	// addresses. Src and Dst are then zero.
	Local     bool
	Transport Transport
	Src, Dst  netip.AddrPort // the proxied client and the address it connected to
}

// Parse parses the PROXY header at the start of b and returns it together
// with the number of bytes it occupies; b[n:] is the connection's first
// payload. It decides ErrNotProxy from the first byte that cannot belong to
// either signature, so a plain SIP or HEP3 first segment is rejected at once.
func Parse(b []byte) (h Header, n int, err error) {
	if len(b) == 0 {
		return Header{}, 0, ErrIncomplete
	}
	switch {
	case isPrefixOrHas(b, v2Sig[:]):
		if len(b) <= len(v2Sig) {
			return Header{}, 0, ErrIncomplete
		}
		return parseV2(b)
	case isPrefixOrHas(b, []byte(v1Prefix)):
		if len(b) < len(v1Prefix) {
			return Header{}, 0, ErrIncomplete
		}
		return parseV1(b)
	}
	return Header{}, 0, ErrNotProxy
}

// isPrefixOrHas reports whether b is a prefix of sig or begins with sig.
func isPrefixOrHas(b, sig []byte) bool {
	m := min(len(b), len(sig))
	return bytes.Equal(b[:m], sig[:m])
}

func parseV2(b []byte) (Header, int, error) {
	// Version and command are known from byte 13 on: reject before the
	// rest arrives.
	verCmd := b[12]
	if verCmd>>4 != 2 {
		return Header{}, 0, invalid(2, "version is not 2")
	}
	cmd := verCmd & 0x0f
	if cmd > 1 {
		return Header{}, 0, invalid(2, "unknown command")
	}
	if len(b) < V2HeaderLen {
		return Header{}, 0, ErrIncomplete
	}
	famProto := b[13]
	length := int(binary.BigEndian.Uint16(b[14:16]))
	total := V2HeaderLen + length
	if len(b) < total {
		return Header{}, 0, ErrIncomplete
	}
	addr := b[V2HeaderLen:total] // addresses then TLVs; TLVs are skipped with it
	h := Header{Version: 2}
	if cmd == 0 {
		// LOCAL: the spec says the family and addresses are to be ignored.
		h.Local = true
		return h, total, nil
	}
	switch famProto & 0x0f {
	case 0:
		h.Transport = TransportUnspec
	case 1:
		h.Transport = TransportTCP
	case 2:
		h.Transport = TransportUDP
	default:
		return Header{}, 0, invalid(2, "unknown transport protocol")
	}
	switch famProto >> 4 {
	case 0: // AF_UNSPEC: the spec says use the real connection endpoints.
		if h.Transport != TransportUnspec {
			return Header{}, 0, invalid(2, "AF_UNSPEC with a transport protocol")
		}
		h.Local = true
	case 1: // AF_INET
		if h.Transport == TransportUnspec {
			return Header{}, 0, invalid(2, "AF_INET without a transport protocol")
		}
		// Kamailio does not check this and reads stale bytes (§11.8).
		if len(addr) < 12 {
			return Header{}, 0, invalid(2, "address length too short for AF_INET")
		}
		h.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[0:4])), binary.BigEndian.Uint16(addr[8:10]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(addr[4:8])), binary.BigEndian.Uint16(addr[10:12]))
	case 2: // AF_INET6
		if h.Transport == TransportUnspec {
			return Header{}, 0, invalid(2, "AF_INET6 without a transport protocol")
		}
		if len(addr) < 36 {
			return Header{}, 0, invalid(2, "address length too short for AF_INET6")
		}
		h.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[0:16])), binary.BigEndian.Uint16(addr[32:34]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(addr[16:32])), binary.BigEndian.Uint16(addr[34:36]))
	case 3: // AF_UNIX: no IP address to take over.
		if h.Transport == TransportUnspec {
			return Header{}, 0, invalid(2, "AF_UNIX without a transport protocol")
		}
		if len(addr) < 216 {
			return Header{}, 0, invalid(2, "address length too short for AF_UNIX")
		}
		h.Local = true
	default:
		return Header{}, 0, invalid(2, "unknown address family")
	}
	if !h.Local && (h.Src.Port() == 0 || h.Dst.Port() == 0) {
		return Header{}, 0, invalid(2, "port 0")
	}
	return h, total, nil
}

func parseV1(b []byte) (Header, int, error) {
	window := b[:min(len(b), MaxV1Len)]
	lf := bytes.IndexByte(window, '\n')
	if lf < 0 {
		if len(b) >= MaxV1Len {
			return Header{}, 0, invalid(1, "no CRLF within 107 bytes")
		}
		if err := checkV1Prefix(b); err != nil {
			return Header{}, 0, err
		}
		return Header{}, 0, ErrIncomplete
	}
	if lf == 0 || b[lf-1] != '\r' {
		return Header{}, 0, invalid(1, "line does not end in CRLF")
	}
	line := b[len(v1Prefix) : lf-1]
	n := lf + 1
	h := Header{Version: 1}
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	switch string(proto) {
	case "UNKNOWN":
		// The spec tells receivers to ignore everything after UNKNOWN.
		h.Local = true
		return h, n, nil
	case "TCP4", "TCP6":
	default:
		return Header{}, 0, invalid(1, "protocol is not TCP4, TCP6 or UNKNOWN")
	}
	h.Transport = TransportTCP
	six := proto[3] == '6'
	var fields [4][]byte
	for i := range fields {
		var ok bool
		fields[i], rest, ok = bytes.Cut(rest, []byte{' '})
		if ok != (i < 3) {
			return Header{}, 0, invalid(1, "want exactly four single-space-separated fields")
		}
	}
	src, ok := parseAddr(fields[0], six)
	if !ok {
		return Header{}, 0, invalid(1, "bad source address")
	}
	dst, ok := parseAddr(fields[1], six)
	if !ok {
		return Header{}, 0, invalid(1, "bad destination address")
	}
	sp, ok := digits.Port(fields[2])
	if !ok {
		return Header{}, 0, invalid(1, "source port not in 1..65535")
	}
	dp, ok := digits.Port(fields[3])
	if !ok {
		return Header{}, 0, invalid(1, "destination port not in 1..65535")
	}
	h.Src = netip.AddrPortFrom(src, sp)
	h.Dst = netip.AddrPortFrom(dst, dp)
	return h, n, nil
}

// checkV1Prefix rejects a v1 line that has no LF yet as soon as its bytes
// cannot begin a valid line, instead of waiting for all 107 bytes.
func checkV1Prefix(b []byte) error {
	rest := b[len(v1Prefix):]
	for _, p := range [...]string{"TCP4 ", "TCP6 ", "UNKNOWN"} {
		m := min(len(rest), len(p))
		if string(rest[:m]) != p[:m] {
			continue
		}
		if p == "UNKNOWN" {
			// Anything may follow "UNKNOWN ", but not "UNKNOWNX".
			if len(rest) > m && rest[m] != ' ' && rest[m] != '\r' {
				return invalid(1, "protocol is not TCP4, TCP6 or UNKNOWN")
			}
			return nil
		}
		if m < len(p) {
			return nil
		}
		for i, c := range rest[m:] {
			switch {
			case c == '\r' && i == len(rest[m:])-1: // the CR of CRLF
			case c == ' ', c == '.', c == ':', '0' <= c && c <= '9',
				'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
			default:
				return invalid(1, "unexpected byte in TCP4/TCP6 line")
			}
		}
		return nil
	}
	return invalid(1, "protocol is not TCP4, TCP6 or UNKNOWN")
}

// parseAddr parses an address strictly for the declared family. It does its
// own parsing because netip.ParseAddr(string(b)) allocates.
func parseAddr(b []byte, six bool) (netip.Addr, bool) {
	if six {
		a, ok := parseIPv6(b)
		return netip.AddrFrom16(a), ok
	}
	a, ok := parseIPv4(b)
	return netip.AddrFrom4(a), ok
}

// parseIPv4 accepts dotted decimal with no leading zeros, as netip does.
func parseIPv4(b []byte) (a [4]byte, ok bool) {
	for i := range 4 {
		if i > 0 {
			if len(b) == 0 || b[0] != '.' {
				return a, false
			}
			b = b[1:]
		}
		n, v := 0, 0
		for n < len(b) && '0' <= b[n] && b[n] <= '9' {
			if n > 0 && v == 0 {
				return a, false // leading zero
			}
			v = v*10 + int(b[n]-'0')
			if v > 255 {
				return a, false
			}
			n++
		}
		if n == 0 {
			return a, false
		}
		a[i] = byte(v)
		b = b[n:]
	}
	return a, len(b) == 0
}

// parseIPv6 accepts RFC 4291 text forms, with "::" and a trailing dotted
// IPv4 part; zones are rejected (a proxied address has none).
func parseIPv6(b []byte) (a [16]byte, ok bool) {
	ellipsis := -1 // byte index in a where "::" stood
	i := 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis = 0
		b = b[2:]
		if len(b) == 0 {
			return a, true
		}
	}
	for i < 16 {
		// A group: up to 4 hex digits, or a dotted IPv4 tail.
		n, v := 0, 0
		for n < len(b) && n < 5 {
			d, isHex := hexVal(b[n])
			if !isHex {
				break
			}
			v = v<<4 | d
			n++
		}
		if n == 0 || n > 4 {
			return a, false
		}
		if n < len(b) && b[n] == '.' {
			if ellipsis < 0 && i != 12 || i > 12 {
				return a, false
			}
			v4, ok := parseIPv4(b)
			if !ok {
				return a, false
			}
			copy(a[i:], v4[:])
			i += 4
			b = nil
			break
		}
		a[i], a[i+1] = byte(v>>8), byte(v)
		i += 2
		b = b[n:]
		if len(b) == 0 {
			break
		}
		if b[0] != ':' || len(b) == 1 {
			return a, false
		}
		b = b[1:]
		if b[0] == ':' {
			if ellipsis >= 0 {
				return a, false
			}
			ellipsis = i
			b = b[1:]
			if len(b) == 0 {
				break
			}
		}
	}
	if len(b) != 0 {
		return a, false
	}
	if i < 16 {
		if ellipsis < 0 {
			return a, false
		}
		// Move the groups after "::" to the end and zero the gap.
		k := 16 - i
		for j := i - 1; j >= ellipsis; j-- {
			a[j+k] = a[j]
		}
		for j := ellipsis; j < ellipsis+k; j++ {
			a[j] = 0
		}
	} else if ellipsis >= 0 {
		return a, false // "::" must stand for at least one group
	}
	return a, true
}

func hexVal(c byte) (int, bool) {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0'), true
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}
