package ingest

import (
	"bytes"
	"strconv"
	"unicode/utf8"
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
	start := 0
	for i := 0; i < len(s); {
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

func appendUint(dst []byte, v uint64) []byte { return strconv.AppendUint(dst, v, 10) }

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
