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

// scanAVX2 reads blocks 64-byte blocks from p: it stores the first words
// blocks' line feed masks at nl, a word per block, bit j for byte j, and
// returns the scan flags of all of them.
//
//go:noescape
func scanAVX2(p *byte, blocks int, nl *uint64, words int) uint64

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
	blocks := len(b) / 64
	words := min(blocks, mapWords)
	f := scanAVX2(&b[0], blocks, &lm.nl[0], words)
	lm.n = words * 64
	if r := len(b) % 64; r != 0 {
		// The last, partial block is read as the block that ends b: its
		// first 64-r bytes were read already and are shifted out.
		var last uint64
		f |= scanAVX2(&b[len(b)-64], 1, &last, 1)
		if blocks < mapWords {
			lm.nl[blocks] = last >> (64 - r)
			lm.n = len(b)
		}
	}
	switch {
	case f == 0:
		return true
	case f&scanNUL != 0:
		return false
	default:
		return utf8.Valid(b)
	}
}
