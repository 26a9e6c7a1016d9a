package sip

import (
	"bytes"
	"testing"
)

// TestWordSearches: indexBlank and indexByte, eight bytes at a time, find
// what a byte-by-byte search finds: the sought byte at every position of
// lines up to three words long (or nowhere), among bytes one bit away from
// it, zero bytes and others, from every start.
func TestWordSearches(t *testing.T) {
	fill := []byte{'a', 0x00, 0x01, 0x08, 0x0a, 0x1f, 0x21, '?', 0x41, 0xff}
	for _, c := range []byte{' ', '\t', '@'} {
		sought := func(x byte) bool { return x == c || c != '@' && isSpace(x) }
		for n := 0; n <= 24; n++ {
			for pos := -1; pos < n; pos++ { // -1: nowhere
				for _, f := range fill {
					b := bytes.Repeat([]byte{f}, n)
					if pos >= 0 {
						b[pos] = c
					}
					for from := 0; from <= n; from++ {
						want := from
						for want < n && !sought(b[want]) {
							want++
						}
						got := indexBlank(b, from)
						if c == '@' {
							got = from + indexByte(b[from:], c)
						}
						if got != want {
							t.Fatalf("%q from %d, looking for %q: got %d, want %d", b, from, c, got, want)
						}
					}
				}
			}
		}
	}
}
