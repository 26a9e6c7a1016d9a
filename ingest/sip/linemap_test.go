package sip

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// checkLineMap fails t unless scan tells clean text as utf8.Valid and
// bytes.IndexByte do, and index finds from every position of b the line
// feed a byte-by-byte search finds, for the vector pass where the CPU has
// one and for the portable path.
func checkLineMap(t *testing.T, b []byte) {
	t.Helper()
	want := make([]int, len(b)+1) // the first '\n' at or after i, or -1
	want[len(b)] = -1
	for i := len(b) - 1; i >= 0; i-- {
		want[i] = want[i+1]
		if b[i] == '\n' {
			want[i] = i
		}
	}
	clean := utf8.Valid(b) && bytes.IndexByte(b, 0) < 0
	var lm, pm lineMap
	for _, c := range []struct {
		name string
		lm   *lineMap
		got  bool
	}{{"scan", &lm, lm.scan(b)}, {"scanPortable", &pm, pm.scanPortable(b)}} {
		if c.got != clean {
			t.Fatalf("%s of %d bytes %q: clean %v, want %v", c.name, len(b), b, c.got, clean)
		}
		if c.lm.n > len(b) || c.lm.n > 64*mapWords {
			t.Fatalf("%s of %d bytes: %d mapped", c.name, len(b), c.lm.n)
		}
		for i := range b {
			if got := c.lm.index(b, i); got != want[i] {
				t.Fatalf("%s of %d bytes (%d mapped) %q: index from %d = %d, want %d", c.name, len(b), c.lm.n, b, i, got, want[i])
			}
		}
	}
}

// TestLineMap: every length up to 300 bytes and around each 64-byte block
// to well past the mapped 1,024 bytes; line feeds nowhere, sparse, dense
// and everywhere; a NUL, a byte of 0x80 or more, valid and invalid UTF-8
// at the start, in a block, in the last (partial) block, and on either side
// of the mapped bytes' end.
func TestLineMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	var lengths []int
	for n := range 301 {
		lengths = append(lengths, n)
	}
	for k := 5; k <= 40; k++ {
		lengths = append(lengths, 64*k-1, 64*k, 64*k+1, 64*k+37)
	}
	specials := []string{"\x00", "\x80", "\xff", "é", "€", "\xe2\x82", "\n\x00"}
	for _, n := range lengths {
		for _, density := range []float64{0, 0.02, 0.3, 1} {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'a' + byte(rng.IntN(26))
				if rng.Float64() < density {
					b[i] = '\n'
				}
			}
			checkLineMap(t, b)
			for _, sp := range specials {
				for _, at := range []int{0, n / 2, n - len(sp), n - 65, 64 * mapWords, 64*mapWords - 1, rng.IntN(n + 1)} {
					if at < 0 || at+len(sp) > n {
						continue
					}
					c := bytes.Clone(b)
					copy(c[at:], sp)
					checkLineMap(t, c)
				}
			}
		}
	}
}

// FuzzLineMap: checkLineMap on any bytes; the seeds are the parser's.
func FuzzLineMap(f *testing.F) {
	for _, s := range seedPayloads(f) {
		f.Add(s)
	}
	f.Fuzz(checkLineMap)
}
