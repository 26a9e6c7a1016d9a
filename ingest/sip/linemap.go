package sip

import (
	"bytes"
	"math/bits"
	"unicode/utf8"
)

// mapWords is how much of a message a lineMap maps, in 64-byte words: the
// header of nearly every SIP message fits in its 1,024 bytes, and the
// parser reads no further unless it wants the body.
const mapWords = 16

// A lineMap marks the line feeds of a message's first n bytes, a bit per
// byte, so that a header line's end is a shift and a trailing-zero count
// rather than a bytes.IndexByte call, whose set-up costs a short line as
// much as its search. It is filled by one vector pass over the whole
// message, which also tells whether the message is text a PostgreSQL
// column takes as it is (see scan).
type lineMap struct {
	nl [mapWords + 1]uint64 // bit i%64 of nl[i/64]: b[i] is '\n'; the last word stays 0
	n  int                  // the bytes mapped; 0 where there is no vector pass
}

// index returns the index of the first '\n' in b at or after i, or -1; b is
// the message lm was filled from.
func (lm *lineMap) index(b []byte, i int) int {
	if m := lm.word(i); m != 0 {
		return i + bits.TrailingZeros64(m)
	}
	return lm.indexAfter(b, i)
}

// word returns the line feeds among the 64 bytes from b[i] as the bits of
// a word, from two of lm's: 0 if there is none or i is not mapped. It is
// what index does without a call, which the parser's loop writes out:
// index cannot be inlined, and most lines are shorter than 64 bytes.
func (lm *lineMap) word(i int) uint64 {
	if i >= lm.n {
		return 0
	}
	w, s := uint(i>>6)&(mapWords-1), uint(i&63)
	return lm.nl[w]>>s | lm.nl[w+1]<<1<<(63-s)
}

// indexAfter is index when the word of i holds no line feed after it.
func (lm *lineMap) indexAfter(b []byte, i int) int {
	if i < lm.n {
		for w := i>>6 + 1; w*64 < lm.n; w++ {
			if m := lm.nl[w&(mapWords-1)]; m != 0 {
				return w*64 + bits.TrailingZeros64(m)
			}
		}
		i = lm.n
	}
	if j := bytes.IndexByte(b[i:], '\n'); j >= 0 {
		return i + j
	}
	return -1
}

// nextLine returns the end of the line that starts at b[i], without its
// CRLF or LF, and the start of the following line.
func (lm *lineMap) nextLine(b []byte, i int) (end, next int) {
	end, next = len(b), len(b)
	if j := lm.index(b, i); j >= 0 {
		end, next = j, j+1
	}
	if end > i && b[end-1] == '\r' {
		end--
	}
	return end, next
}

// scanPortable is scan without a vector pass: nothing is mapped, so index
// searches b, and the text is checked as utf8.Valid and bytes.IndexByte
// do.
func (lm *lineMap) scanPortable(b []byte) bool {
	lm.n = 0
	return utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
}
