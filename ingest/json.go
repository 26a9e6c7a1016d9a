package ingest

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hepd/hepd/ingest/sip"
)

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes copied into a JSON string as they are: printable
// ASCII but the quote and the backslash. Header values are almost always
// that; plainPrefix finds where they stop being it.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string. Every value goes through it
// (node names, passwords and header values included) because heplify-server's
// habit of writing some of them verbatim is what breaks its batches. NUL bytes
// and invalid UTF-8 are dropped rather than escaped: PostgreSQL's jsonb
// refuses \u0000 and text columns refuse invalid UTF-8.
func appendJSONString(dst []byte, s []byte) []byte {
	return appendJSONRest(append(dst, '"'), s)
}

// appendJSONRest is appendJSONString after the opening quote.
func appendJSONRest(dst []byte, s []byte) []byte {
	i := plainPrefix(s)
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if jsonPlain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case 0:
			// dropped, see above
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			// else: a byte of invalid UTF-8, dropped
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Byte-wise tests on eight bytes at once (SWAR): lsb has 1 in every byte,
// msb the top bit of every byte.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plainPrefix returns how many leading bytes of s jsonPlain copies as they
// are. Eight bytes at a time it looks for a byte below 0x20, one with the
// top bit set (UTF-8, left to the byte loop), a quote or a backslash; a
// flagged word is finished byte by byte.
func plainPrefix(s []byte) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		if !plainWord(binary.LittleEndian.Uint64(s[i:])) {
			break
		}
	}
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	return i
}

// plainWord reports whether all eight bytes of w are jsonPlain.
func plainWord(w uint64) bool { return notPlain(w)&msb == 0 }

// notPlain has the top bit of a byte set where w may have a byte that is
// not jsonPlain: exact as "is there one", which is all it is asked, also
// of several words OR-ed.
func notPlain(w uint64) uint64 {
	q, bs := w^('"'*lsb), w^('\\'*lsb)
	// x-lsb&^x&msb flags a zero byte of x, x-0x20*lsb&^x&msb a byte
	// below 0x20.
	return ((w-0x20*lsb)|(q-lsb)|(bs-lsb))&^w | w
}

// appendJSONStr is appendJSONString for a string constant or key, without a
// conversion that would allocate.
func appendJSONStr(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' {
			// Keys are configured, not captured: rare enough to take the slow path.
			return appendJSONString(dst[:len(dst)-1], []byte(s))
		}
	}
	dst = append(dst, s...)
	return append(dst, '"')
}

// jsonbCompare orders object keys as PostgreSQL's jsonb keeps them: shorter
// first, then bytewise (lengthCompareJsonbString in jsonb_util.c).
// PostgreSQL sorts the keys of every object it parses into jsonb; keys that
// already come in that order cost it one pass to check. Sent in Homer's
// order, that sort took 3.7% of PostgreSQL's CPU in the homer benchmark
// (perf, 2026-11-30), and nothing in its ceiling, whose rows came back from
// PostgreSQL already sorted.
func jsonbCompare(a, b string) int {
	if len(a) != len(b) {
		return cmp.Compare(len(a), len(b))
	}
	return strings.Compare(a, b)
}

// sipField is a data_header member's start, `,"key":"`, as the three
// little-endian words appendSIPField stores and its length.
type sipField struct {
	w [3]uint64
	n int
}

// sipFields[k] is the member start for every sip.Key value: the names are
// fixed, so a member costs three stores and its value.
var sipFields = func() (t [256]sipField) {
	for k := range t {
		f := "," + string(appendJSONStr(nil, sip.Key(k).String())) + `:"`
		var b [24]byte
		t[k].n = copy(b[:], f) // at most 17 bytes: ,"contact_domain":"
		for i := range t[k].w {
			t[k].w[i] = binary.LittleEndian.Uint64(b[8*i:])
		}
	}
	return t
}()

// appendSIPField appends the data_header member k: v with its leading
// comma (appendDataHeader turns the first into the brace). A value of at
// most 24 plain bytes, which most are, is copied as at most three words
// that are checked as they are loaded, into room reserved for the longest
// such member: no loop and no call of memmove. The words may overlap, and
// a value shorter than a word is read within its capacity (it is a
// sub-slice of the payload) and padded; what that writes after the closing
// quote lies beyond the returned length. Anything else takes
// appendJSONRest. The Kamailio INVITE's data_header took 1,895 instructions
// instead of 2,153 (callgrind, 2026-11-30).
func appendSIPField(dst []byte, k sip.Key, v []byte) []byte {
	// The member start's three words; or its at most 17 bytes, a value of
	// at most 24 and the quote; with room for val below, which starts
	// before byte 32 and is long enough for its stores at masked offsets to
	// need no bounds checks.
	const room = 80
	if cap(dst)-len(dst) < room {
		dst = slices.Grow(dst, room)
	}
	l, f, n := len(dst), &sipFields[k], len(v)
	r := (*[room]byte)(dst[l : l+room])
	binary.LittleEndian.PutUint64(r[0:], f.w[0])
	binary.LittleEndian.PutUint64(r[8:], f.w[1])
	binary.LittleEndian.PutUint64(r[16:], f.w[2])
	// The masks change no value here (f.n <= 17, n <= 24): they let the
	// compiler prove the stores into val in bounds.
	fn := f.n & 31
	val := (*[48]byte)(r[fn : fn+48])
	if n == 0 { // absent: Homer writes ""
		val[0] = '"'
		return dst[:l+fn+1]
	}
	// w0 goes to val[0:], and for a value longer than a word w1 to
	// val[p1:] and w2 to val[n-8:].
	var w0, w1, w2 uint64
	p1 := 8
	switch {
	case n > 24 || n < 8 && cap(v) < 8:
		return appendJSONRest(dst[:l+fn], v)
	case n < 8:
		keep := uint64(1)<<(8*n) - 1
		w0 = binary.LittleEndian.Uint64(v[:8])&keep | 'a'*lsb&^keep
		w1, w2 = w0, w0
	case n <= 16:
		w0, w2 = binary.LittleEndian.Uint64(v), binary.LittleEndian.Uint64(v[n-8:])
		w1, p1 = w2, n-8
	default:
		w0, w1 = binary.LittleEndian.Uint64(v), binary.LittleEndian.Uint64(v[8:])
		w2 = binary.LittleEndian.Uint64(v[n-8:])
	}
	if (notPlain(w0)|notPlain(w1)|notPlain(w2))&msb != 0 {
		return appendJSONRest(dst[:l+fn], v)
	}
	binary.LittleEndian.PutUint64(val[:], w0)
	if n > 8 {
		binary.LittleEndian.PutUint64(val[p1&31:], w1)
		binary.LittleEndian.PutUint64(val[(n-8)&31:], w2)
	}
	val[n&31] = '"'
	return dst[:l+fn+n+1]
}

// digitPairs holds "00" to "99".
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

var pow10 = [20]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19}

// appendUint appends v in decimal, straight into dst: the one-digit values
// (family, protocol, payload type) take no division at all, those below
// 10⁸ (ports, microseconds, node ids) a few multiplications
// (eightDigits), and the others two digits per division.
func appendUint(dst []byte, v uint64) []byte {
	if v < 10 {
		return append(dst, byte('0'+v))
	}
	if v < 1e8 {
		if cap(dst)-len(dst) < 8 {
			dst = slices.Grow(dst, 8)
		}
		d := eightDigits(uint32(v))
		// The leading zeros are the low bytes; v ≥ 10 has at least two
		// digits, so at most six.
		z := bits.TrailingZeros64(d) >> 3
		l := len(dst)
		binary.LittleEndian.PutUint64(dst[l:l+8], d>>(8*z)+'0'*lsb)
		return dst[:l+8-z]
	}
	// The number of digits: bit length × log10(2) (1233/4096) is the
	// number or one less; the power of ten tells which.
	n := bits.Len64(v) * 1233 >> 12
	if v >= pow10[n] {
		n++
	}
	l := len(dst)
	if cap(dst)-l < n {
		dst = append(dst, make([]byte, n)...)[:l]
	}
	d := dst[l : l+n]
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		d[n-2], d[n-1] = digitPairs[r], digitPairs[r+1]
		n -= 2
		v = q
	}
	if v >= 10 {
		d[n-2], d[n-1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		d[n-1] = byte('0' + v)
	}
	return dst[:l+len(d)]
}

// eightDigits returns the eight decimal digits of v < 10⁸, leading zeros
// included, as the eight bytes of a little-endian word, each holding a
// digit's value 0 to 9 (the first digit in the lowest byte): v is split into halves of four digits, each into
// two of two, each into two digits, every step on all parts at once as
// lanes of one word. x/100 is x*10486>>20 for x < 10⁴, x/10 is x*103>>10
// for x < 100; a lane's product fits its lane, and what a shift moves into
// the lane below lands above the bits the mask keeps.
func eightDigits(v uint32) uint64 {
	a := uint64(v/10000) | uint64(v%10000)<<32  // two 32-bit lanes of four digits
	b := (a * 10486 >> 20) & 0x0000007f0000007f // each lane / 100
	c := b | (a-b*100)<<16                      // four 16-bit lanes of two digits
	d := (c * 103 >> 10) & 0x000f000f000f000f   // each lane / 10
	return d | (c-d*10)<<8                      // eight bytes of one digit
}

// appendJSONAddr appends ip as a JSON string. Its text is digits, hex
// letters, dots and colons, which need no escaping, unless it has a zone
// (an interface name).
func appendJSONAddr(dst []byte, ip netip.Addr) []byte {
	if ip.Zone() != "" {
		var buf [64]byte
		return appendJSONString(dst, ip.AppendTo(buf[:0]))
	}
	dst = append(dst, '"')
	dst = ip.AppendTo(dst)
	return append(dst, '"')
}

// textCache keeps the JSON text of protocol_header values that repeat from
// one message to the next: the capture time's second, which thousands of
// messages share, and a few addresses. Formatting them was 8% of
// BenchmarkMessage's CPU (pprof, 2026-11-30); a hit is a compare and a copy.
// It lives in a batch, so it needs no lock.
type textCache struct {
	sec   int64
	secN  uint8 // length of secTx; 0 until a second is kept
	secTx [20]byte

	addrs [4]addrText
	hand  uint8 // where the search for an entry to replace starts
}

// addrText is an address and its JSON string, quotes included: at most
// 45 bytes of IPv6 text (IPv4-mapped) and two quotes.
type addrText struct {
	ip   netip.Addr
	n    uint8 // 0: unused
	used bool  // hit since the hand last passed
	tx   [47]byte
}

// appendSec appends sec in decimal.
func (c *textCache) appendSec(dst []byte, sec int64) []byte {
	if c.secN == 0 || sec != c.sec {
		c.sec, c.secN = sec, uint8(len(appendUint(c.secTx[:0], uint64(sec))))
	}
	return append(dst, c.secTx[:c.secN]...)
}

// appendAddr is appendJSONAddr(dst, ip), through the cache. One side of
// most captured messages is the proxy's own address, the other a peer's,
// of which there may be thousands; so a miss replaces an entry not hit
// since the last miss passed it (the clock algorithm), and the proxy's
// addresses stay. An address with a zone (rare, its text unbounded) is
// not kept.
func (c *textCache) appendAddr(dst []byte, ip netip.Addr) []byte {
	for i := range c.addrs {
		if e := &c.addrs[i]; e.n != 0 && e.ip == ip {
			e.used = true
			return append(dst, e.tx[:e.n]...)
		}
	}
	start := len(dst)
	dst = appendJSONAddr(dst, ip)
	if ip.Zone() == "" {
		e := &c.addrs[c.hand]
		for e.used {
			e.used = false
			c.hand = (c.hand + 1) % uint8(len(c.addrs))
			e = &c.addrs[c.hand]
		}
		c.hand = (c.hand + 1) % uint8(len(c.addrs))
		e.ip, e.n = ip, uint8(copy(e.tx[:], dst[start:]))
	}
	return dst
}

// cleanText returns b as valid UTF-8 without NUL bytes, which is what a
// PostgreSQL text column takes. The common case, already clean, costs one
// scan and no copy; otherwise the cleaned bytes are appended to scratch.
func cleanText(b []byte, scratch []byte) (clean, newScratch []byte) {
	if utf8.Valid(b) && bytes.IndexByte(b, 0) < 0 {
		return b, scratch
	}
	start := len(scratch)
	for i := 0; i < len(b); {
		c := b[i]
		if c == 0 {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			scratch = append(scratch, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			i++
			continue
		}
		scratch = append(scratch, b[i:i+size]...)
		i += size
	}
	return scratch[start:], scratch
}
