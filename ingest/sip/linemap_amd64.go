//go:build !purego

package sip

import (
	"unicode/utf8"

	"golang.org/x/sys/cpu"
)

// Flags scanAVX2 returns.
const (
	scanHigh = 1 << iota // a byte of 0x80 or more: not ASCII
	scanNUL              // a NUL byte
)

// scanAVX2 maps the line feeds of b, len(b) >= 64, into nl, up to its
// last word, and returns the bytes mapped and the scan flags of all of b.
//
//go:noescape
func scanAVX2(b []byte, nl *[mapWords + 1]uint64) (n int, flags uint64)

// scanAVX2 counts the words it maps up to 16: mapWords must say the same,
// or this does not compile.
var _ = [1]struct{}{}[mapWords-16]

// scan fills lm from b and reports whether b is valid UTF-8 without NUL
// bytes: with AVX2, in one pass that compares 32 bytes at a time (see
// scanVector); without it, or for a message shorter than a block, as
// scanPortable does.
func (lm *lineMap) scan(b []byte) bool {
	if len(b) < 64 || !cpu.X86.HasAVX2 {
		return lm.scanPortable(b)
	}
	return lm.scanVector(b)
}

// scanVector is scan for len(b) >= 64 on a CPU with AVX2. A message that
// is ASCII without NUL, nearly every SIP message, needs nothing more; one
// with other bytes is checked for UTF-8 again.
func (lm *lineMap) scanVector(b []byte) bool {
	n, f := scanAVX2(b, &lm.nl)
	lm.n = n
	switch {
	case f == 0:
		return true
	case f&scanNUL != 0:
		return false
	default:
		return utf8.Valid(b)
	}
}
