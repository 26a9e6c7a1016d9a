package sip

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// Byte-level helpers. They never allocate, return sub-slices of their input
// and tolerate any byte, NUL and unterminated quotes included.

// Byte classes as bit sets over the bytes 0-63, where every delimiter the
// scanners look for lives: one compare and one shift per byte.
const (
	wsSet          uint64 = 1<<' ' | 1<<'\t' | 1<<'\r' | 1<<'\n'
	paramDelimSet         = wsSet | 1<<';' | 1<<',' | 1<<'=' | 1<<'"'
	hostEndSet            = wsSet | 1<<':' | 1<<';' | 1<<'?' | 1<<'>' | 1<<','
	elemStopSet           = 1<<';' | 1<<',' | 1<<'"' // nextParam: param start, next element, quote
	dispNameSet           = 1<<'<' | 1<<':' | 1<<',' | 1<<';'
	addrSpecEndSet        = wsSet | 1<<';' | 1<<','
)

// The sets as bits of one table entry per byte: a load and a test.
const (
	clsWS uint8 = 1 << iota
	clsParamDelim
	clsHostEnd
	clsElemStop
	clsDispName
	clsAddrSpecEnd
)

var byteClass = func() (t [256]uint8) {
	for c := 0; c < 64; c++ {
		for _, s := range []struct {
			cls uint8
			set uint64
		}{
			{clsWS, wsSet}, {clsParamDelim, paramDelimSet}, {clsHostEnd, hostEndSet},
			{clsElemStop, elemStopSet}, {clsDispName, dispNameSet}, {clsAddrSpecEnd, addrSpecEndSet},
		} {
			if s.set>>c&1 != 0 {
				t[c] |= s.cls
			}
		}
	}
	return t
}()

func in(cls uint8, c byte) bool { return byteClass[c]&cls != 0 }

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// isWS also counts CR and LF, which occur inside folded header values.
func isWS(c byte) bool { return in(clsWS, c) }

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// isToken reports whether c is a token character (RFC 3261 §25.1).
func isToken(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '.', '!', '%', '*', '_', '+', '`', '\'', '~':
		return true
	}
	return false
}

// tokenByte is isToken as a table, for the header-name scan that every
// line takes.
var tokenByte = func() (t [256]bool) {
	for c := range t {
		t[c] = isToken(byte(c))
	}
	return t
}()

// Byte-wise tests on eight bytes at once (SWAR): lsb has 1 in every byte,
// msb the top bit of every byte.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// indexBlank returns the index of the first SP or HTAB in b at or after i,
// or len(b). It tests eight bytes at a time: the Request-URI it ends is
// the longest run of bytes the parser crosses one by one otherwise.
func indexBlank(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		sp, ht := w^' '*lsb, w^'\t'*lsb
		// x-lsb&^x&msb flags the zero bytes of x, and maybe bytes above
		// the first one, never below it.
		if t := ((sp-lsb)&^sp | (ht-lsb)&^ht) & msb; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	for i < len(b) && !isSpace(b[i]) {
		i++
	}
	return i
}

// indexByte returns the index of the first c in b, or len(b). Eight bytes
// at a time, in line: the URIs it searches for their '@' are too short for
// bytes.IndexByte's call to pay.
func indexByte(b []byte, c byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:]) ^ uint64(c)*lsb
		if t := (x - lsb) &^ x & msb; t != 0 {
			return i + bits.TrailingZeros64(t)>>3
		}
	}
	for i < len(b) && b[i] != c {
		i++
	}
	return i
}

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

func trimWS(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && isWS(b[i]) {
		i++
	}
	for j > i && isWS(b[j-1]) {
		j--
	}
	return b[i:j]
}

// quoted scans the quoted string that starts at b[i] == '"'. It returns the
// end of its content and the index after the closing quote; an unterminated
// string runs to len(b).
func quoted(b []byte, i int) (contentEnd, next int) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++ // skip the escaped byte, which may be a quote
		case '"':
			return j, j + 1
		}
	}
	return len(b), len(b)
}

// nextParam scans s from i for the next ;-parameter of one header element;
// s may start with other text (a URI, a sent-by). A comma outside quotes
// ends the element: ok is then false, as it is at the end of s. A quoted
// value is returned without its quotes; a parameter without "=" has an
// empty value.
func nextParam(s []byte, i int) (name, val []byte, next int, ok bool) {
	for i < len(s) && s[i] != ';' {
		if !in(clsElemStop, s[i]) {
			i++
			continue
		}
		switch s[i] {
		case ',':
			return nil, nil, len(s), false
		case '"':
			_, i = quoted(s, i)
		default:
			i++
		}
	}
	if i >= len(s) {
		return nil, nil, len(s), false
	}
	i = skipWS(s, i+1)
	start := i
	for i < len(s) && !isParamDelim(s[i]) {
		i++
	}
	name = s[start:i]
	i = skipWS(s, i)
	val = s[i:i]
	if i < len(s) && s[i] == '=' {
		i = skipWS(s, i+1)
		if i < len(s) && s[i] == '"' {
			end, after := quoted(s, i)
			val = s[i+1 : end]
			i = after
		} else {
			vs := i
			for i < len(s) && !isParamDelim(s[i]) {
				i++
			}
			val = s[vs:i]
		}
	}
	return name, val, i, true
}

// param returns the value of the parameter called name (lower case; matched
// case-insensitively) among the parameters of the first element of s.
func param(s []byte, name string) (val []byte, ok bool) {
	// The common shape, ";tag=value" right at the start, without the
	// general scan; anything else (blanks, quotes, other parameters
	// first) takes it.
	if n := len(name) + 2; len(s) > n && s[0] == ';' && s[n-1] == '=' && !isParamDelim(s[n]) && equalFold(s[1:n-1], name) {
		i := n
		for i < len(s) && !isParamDelim(s[i]) {
			i++
		}
		return s[n:i], true
	}
	return scanParams(s, name)
}

// scanParams is param without the shortcut: every parameter in turn.
func scanParams(s []byte, name string) (val []byte, ok bool) {
	for i := 0; ; {
		n, v, next, ok := nextParam(s, i)
		if !ok {
			return nil, false
		}
		if equalFold(n, name) {
			return v, true
		}
		i = next
	}
}

func isParamDelim(c byte) bool { return in(clsParamDelim, c) }

// authParam returns the value of the auth-param named name (lower case) in
// the credentials s ("Digest username=\"bob\", realm=…", RFC 3261 §25.1).
func authParam(s []byte, name string) []byte {
	i := skipWS(s, 0)
	for i < len(s) && !isWS(s[i]) { // the scheme, "Digest"
		i++
	}
	for i < len(s) {
		i = skipWS(s, i)
		start := i
		for i < len(s) && !isParamDelim(s[i]) {
			i++
		}
		pname := s[start:i]
		i = skipWS(s, i)
		if i >= len(s) || s[i] != '=' {
			// Not name=value: skip to the next comma (stray byte or token68).
			for i < len(s) && s[i] != ',' {
				if s[i] == '"' {
					_, i = quoted(s, i)
					continue
				}
				i++
			}
			i++
			continue
		}
		i = skipWS(s, i+1)
		var v []byte
		if i < len(s) && s[i] == '"' {
			end, next := quoted(s, i)
			v = s[i+1 : end]
			i = next
		} else {
			vs := i
			for i < len(s) && s[i] != ',' && !isWS(s[i]) {
				i++
			}
			v = s[vs:i]
		}
		if equalFold(pname, name) {
			return v
		}
		for i < len(s) && s[i] != ',' { // junk after the value
			if s[i] == '"' {
				_, i = quoted(s, i)
				continue
			}
			i++
		}
		i++
	}
	return nil
}

// uri splits a sip:, sips: or tel: URI into user and host. ok is false for
// other schemes. A tel: URI has the number as user and no host. The user
// drops any password ("user:pw@host"); the host drops the port and keeps
// IPv6 brackets.
func uri(u []byte) (user, host []byte, ok bool) {
	u = trimWS(u)
	// The scheme is what precedes the first colon; letters compare in any
	// case with c|0x20, the colon exactly.
	var rest []byte
	switch {
	case len(u) >= 4 && u[0]|0x20 == 's' && u[1]|0x20 == 'i' && u[2]|0x20 == 'p' && u[3] == ':':
		rest = u[4:]
	case len(u) >= 5 && u[0]|0x20 == 's' && u[1]|0x20 == 'i' && u[2]|0x20 == 'p' && u[3]|0x20 == 's' && u[4] == ':':
		rest = u[5:]
	case len(u) >= 4 && u[0]|0x20 == 't' && u[1]|0x20 == 'e' && u[2]|0x20 == 'l' && u[3] == ':':
		rest = u[4:]
		i := 0
		for i < len(rest) && rest[i] != ';' && rest[i] != '?' && !isWS(rest[i]) {
			i++
		}
		return rest[:i], nil, true
	default:
		return nil, nil, false
	}
	hostport := rest
	user = rest[:0]
	if at := indexByte(rest, '@'); at < len(rest) {
		user, hostport = rest[:at], rest[at+1:]
		for i, c := range user {
			if c == ':' { // user:password@host
				user = user[:i]
				break
			}
		}
	}
	if len(hostport) > 0 && hostport[0] == '[' {
		for j := 1; j < len(hostport); j++ {
			if hostport[j] == ']' {
				return user, hostport[:j+1], true
			}
		}
	}
	i := 0
	for i < len(hostport) && !isHostEnd(hostport[i]) {
		i++
	}
	return user, hostport[:i], true
}

func isHostEnd(c byte) bool { return in(clsHostEnd, c) }

// nameAddr parses the first element of a From, To, Contact or
// P-Asserted-Identity value: a name-addr ("Bob" <sip:bob@host>;tag=x) or an
// addr-spec (sip:bob@host;tag=x, whose parameters belong to the header).
// params is what follows the URI, for param.
func nameAddr(v []byte) (addr, params []byte) {
	i := skipWS(v, 0)
	if i < len(v) && v[i] == '"' {
		_, i = quoted(v, i)
		for i < len(v) && v[i] != '<' {
			i++
		}
	} else {
		// A token display name contains none of these; an addr-spec
		// reaches ':' (after its scheme) before any '<'.
		j := i
		for j < len(v) && !in(clsDispName, v[j]) {
			j++
		}
		if j == len(v) || v[j] != '<' {
			k := i
			for k < len(v) && !in(clsAddrSpecEnd, v[k]) {
				k++
			}
			return v[i:k], v[k:]
		}
		i = j
	}
	if i >= len(v) {
		return nil, nil
	}
	start := i + 1
	if j := bytes.IndexByte(v[start:], '>'); j >= 0 {
		return v[start : start+j], v[start+j+1:]
	}
	return v[start:], nil
}
