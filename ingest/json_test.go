package ingest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hepd/hepd/ingest/sip"
)

// appendJSONStringBytewise is appendJSONString as one table lookup per
// byte: the statement of what the word-at-a-time version must produce.
func appendJSONStringBytewise(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case jsonPlain[c]:
			dst = append(dst, c)
		case c >= utf8.RuneSelf:
			if r, size := utf8.DecodeRune(s[i:]); r != utf8.RuneError || size != 1 {
				dst = append(dst, s[i:i+size]...)
				i += size
				continue
			}
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, `\n`...)
		case c == '\r':
			dst = append(dst, `\r`...)
		case c == '\t':
			dst = append(dst, `\t`...)
		case c == '\b':
			dst = append(dst, `\b`...)
		case c == '\f':
			dst = append(dst, `\f`...)
		case c != 0:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
	}
	return append(dst, '"')
}

// TestAppendJSONStringEveryPosition: every byte that is not copied as it
// is, at every position of strings up to three words long, is escaped or
// dropped as the byte-wise statement says.
func TestAppendJSONStringEveryPosition(t *testing.T) {
	var specials []string
	for c := 0; c < 0x20; c++ {
		specials = append(specials, string(rune(c)))
	}
	specials = append(specials, `"`, `\`, "\x7f", "\x80", "\xff", "é", "€", "😀", "\xe2\x82")
	for n := 1; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for _, sp := range specials {
				s := []byte(strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos-1))
				got, want := appendJSONString(nil, s), appendJSONStringBytewise(nil, s)
				if !bytes.Equal(got, want) {
					t.Fatalf("%q: got %s want %s", s, got, want)
				}
			}
		}
	}
}

// TestAppendSIPField: a data_header member is the key and the value as
// appendJSONString writes it, for values of every length around the word
// sizes, with a byte that is not plain at every position, whatever follows
// the value within its capacity (a value is a sub-slice of the payload,
// and a short one is read as a word), and whatever is in dst's spare room.
func TestAppendSIPField(t *testing.T) {
	specials := []string{"\x00", "\x1f", `"`, `\`, "\x7f", "\xff", "é", "€"}
	after := []string{"", "\x00", `"`, "\xff", "aaaaaaaa"}
	check := func(v []byte) {
		t.Helper()
		want := append([]byte(`,"from_user":`), appendJSONStringBytewise(nil, v)...)
		dst := append(make([]byte, 0, 80), "prefix"...)
		spare := dst[len(dst):cap(dst)]
		for i := range spare {
			spare[i] = '#'
		}
		got := appendSIPField(dst, sip.KeyFromUser, v)
		if !bytes.Equal(got[len("prefix"):], want) || string(got[:len("prefix")]) != "prefix" {
			t.Fatalf("%q (cap %d): got %s want %s", v, cap(v), got, want)
		}
	}
	for n := 0; n <= 40; n++ {
		for _, a := range after {
			buf := []byte(strings.Repeat("v", n) + a)
			check(buf[:n:n])
			check(buf[:n])
			for pos := 0; pos < n; pos++ {
				for _, sp := range specials {
					buf := []byte(strings.Repeat("v", pos) + sp + strings.Repeat("w", n-pos-1) + a)
					check(buf[:n+len(sp)-1])
				}
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("plain ascii header value"))
	f.Add([]byte("\"quoted\\\" \x00\x1f ünï\xff"))
	f.Fuzz(func(t *testing.T, s []byte) {
		want := appendJSONStringBytewise(nil, s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s want %s", s, got, want)
		}
		// appendSIPField on every prefix of s, so that the bytes after the
		// value (within its capacity) are s's own.
		for n := range min(len(s), 40) + 1 {
			want := append([]byte(`,"to_tag":`), appendJSONStringBytewise(nil, s[:n])...)
			if got := appendSIPField(nil, sip.KeyToTag, s[:n]); !bytes.Equal(got, want) {
				t.Fatalf("appendSIPField(%q): got %s want %s", s[:n], got, want)
			}
		}
	})
}

// TestEightDigits: every value below 10⁸ whose digits are not all alike,
// sampled, and every one below 10⁵ (ports, and the lanes' edges).
func TestEightDigits(t *testing.T) {
	check := func(v uint32) {
		d := eightDigits(v)
		var got [8]byte
		binary.LittleEndian.PutUint64(got[:], d+'0'*lsb)
		if want := fmt.Sprintf("%08d", v); string(got[:]) != want {
			t.Fatalf("eightDigits(%d) = %q, want %q", v, got, want)
		}
	}
	for v := range uint32(100000) {
		check(v)
	}
	for v := uint32(100000); v < 1e8; v += 997 {
		check(v)
	}
	check(1e8 - 1)
}

func TestAppendUint(t *testing.T) {
	vals := []uint64{0, 1, 9, math.MaxUint64, math.MaxUint64 - 1, 1<<32 - 1, 1e8 - 1, 12345678, 10203040, 5060, 65535}
	for p := uint64(1); p <= 1e19; p *= 10 {
		vals = append(vals, p-1, p, p+1)
		if p == 1e19 {
			break
		}
	}
	for _, v := range vals {
		// Both with room to spare and without.
		for _, dst := range [][]byte{nil, make([]byte, 3, 64)} {
			got := appendUint(dst, v)
			if want := strconv.AppendUint(dst[:len(dst):len(dst)], v, 10); !bytes.Equal(got, want) {
				t.Errorf("appendUint(%d) = %q, want %q", v, got, want)
			}
		}
	}
}

func TestAppendJSONAddr(t *testing.T) {
	for _, tc := range []struct {
		ip   netip.Addr
		want string
	}{
		{netip.MustParseAddr("127.0.0.1"), `"127.0.0.1"`},
		{netip.MustParseAddr("2001:db8::1"), `"2001:db8::1"`},
		{netip.MustParseAddr("::ffff:10.0.0.1"), `"::ffff:10.0.0.1"`},
		{netip.MustParseAddr("fe80::1").WithZone(`eth"0\`), `"fe80::1%eth\"0\\"`},
		{netip.Addr{}, `""`},
	} {
		if got := string(appendJSONAddr(nil, tc.ip)); got != tc.want {
			t.Errorf("%v: got %s want %s", tc.ip, got, tc.want)
		}
	}
}

// TestTextCache: the cached text is the text: for addresses repeated, new,
// evicted, zoned, invalid and at the longest, and for seconds that repeat
// and change.
func TestTextCache(t *testing.T) {
	var c textCache
	addrs := []string{"127.0.0.1", "10.0.0.1", "127.0.0.1", "2001:db8::1", "10.0.0.2",
		"10.0.0.3", "10.0.0.4", "127.0.0.1", "fe80::1%eth0", "fe80::1%eth0", "",
		"::ffff:255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "10.0.0.1", ""}
	for _, s := range addrs {
		var ip netip.Addr
		if s != "" {
			ip = netip.MustParseAddr(s)
		}
		want := string(appendJSONAddr([]byte("x"), ip))
		if got := string(c.appendAddr([]byte("x"), ip)); got != want {
			t.Errorf("appendAddr(%q) = %s, want %s", s, got, want)
		}
	}
	for _, sec := range []int64{1700000000, 1700000000, 1700000001, 9, 1700000001, 0, 1<<63 - 1} {
		want := strconv.AppendUint([]byte("x"), uint64(sec), 10)
		if got := c.appendSec([]byte("x"), sec); !bytes.Equal(got, want) {
			t.Errorf("appendSec(%d) = %s, want %s", sec, got, want)
		}
	}
}

// TestTextCacheKeepsBusyAddresses: an address hit between misses (a
// proxy's) stays cached through a stream of addresses seen once (its
// peers').
func TestTextCacheKeepsBusyAddresses(t *testing.T) {
	var c textCache
	proxy := netip.MustParseAddr("10.0.0.1")
	c.appendAddr(nil, proxy)
	for i := range 1000 {
		c.appendAddr(nil, netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}))
		kept := false
		for _, e := range c.addrs {
			kept = kept || e.n != 0 && e.ip == proxy
		}
		if !kept {
			t.Fatalf("the proxy's address was evicted by peer %d", i)
		}
		c.appendAddr(nil, proxy)
	}
}
