package ingest

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"

	"github.com/hepd/hepd/ingest/sip"
)

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes copied into a JSON string as they are: printable
// ASCII but the quote and the backslash. One table load per byte keeps the
// common case (header values are plain ASCII) a tight loop.
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
	dst = append(dst, '"')
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
		w := binary.LittleEndian.Uint64(s[i:])
		q, bs := w^('"'*lsb), w^('\\'*lsb)
		// x-lsb&^x&msb flags a zero byte of x, x-0x20*lsb&^x&msb a byte
		// below 0x20: exact as "is there one", which is all this asks.
		if ((w-0x20*lsb)|(q-lsb)|(bs-lsb))&^w&msb|w&msb != 0 {
			break
		}
	}
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	return i
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

// appendKey appends `"key":` preceded by a comma unless it opens the object.
func appendKey(dst []byte, key string) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	dst = appendJSONStr(dst, key)
	return append(dst, ':')
}

// sipKeyJSON[k] is `"k":` for every sip.Key value, so that a data_header
// key costs one copy: the names are fixed, only the values need escaping.
var sipKeyJSON = func() (t [256]string) {
	for k := range t {
		t[k] = string(appendJSONStr(nil, sip.Key(k).String())) + ":"
	}
	return t
}()

// appendSIPKey is appendKey for a data_header key.
func appendSIPKey(dst []byte, k sip.Key) []byte {
	if dst[len(dst)-1] != '{' {
		dst = append(dst, ',')
	}
	return append(dst, sipKeyJSON[k]...)
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

// appendUint appends v in decimal, two digits per division; the one-digit
// values (family, protocol, payload type) take no division at all.
func appendUint(dst []byte, v uint64) []byte {
	if v < 10 {
		return append(dst, byte('0'+v))
	}
	var buf [20]byte
	i := len(buf)
	for v >= 100 {
		q := v / 100
		r := (v - q*100) * 2
		i -= 2
		buf[i], buf[i+1] = digitPairs[r], digitPairs[r+1]
		v = q
	}
	if v >= 10 {
		i -= 2
		buf[i], buf[i+1] = digitPairs[v*2], digitPairs[v*2+1]
	} else {
		i--
		buf[i] = byte('0' + v)
	}
	return append(dst, buf[i:]...)
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
