package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func v2(verCmd, famProto byte, body []byte) []byte {
	b := append([]byte{}, v2Sig[:]...)
	b = append(b, verCmd, famProto, 0, 0)
	binary.BigEndian.PutUint16(b[14:], uint16(len(body)))
	return append(b, body...)
}

func inet4Body(tlvs ...byte) []byte {
	return append([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0x04, 0x57, 0x4a, 0x76}, tlvs...)
}

func inet6Body() []byte {
	b := make([]byte, 36)
	b[0], b[1], b[15] = 0x20, 0x01, 1
	b[16], b[17], b[31] = 0x20, 0x01, 2
	binary.BigEndian.PutUint16(b[32:], 1111)
	binary.BigEndian.PutUint16(b[34:], 5060)
	return b
}

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// One row per rule of the PROXY protocol spec (haproxy proxy-protocol.txt)
// and tcp-params.md §4.
var parseTests = []struct {
	name string
	in   []byte
	want Header
	n    int
	err  error
}{
	// v1, §4.3
	{"v1 TCP4", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1111 5060\r\n"),
		Header{1, false, TransportTCP, ap("1.2.3.4:1111"), ap("5.6.7.8:5060")}, 38, nil},
	{"v1 TCP6", []byte("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 65535 1\r\n"),
		Header{1, false, TransportTCP, ap("[2001:db8::1]:65535"), ap("[::ffff:10.0.0.1]:1")}, 48, nil},
	{"v1 TCP6 full form", []byte("PROXY TCP6 1:2:3:4:5:6:7:8 0:0:0:0:0:0:0:1 1 2\r\n"),
		Header{1, false, TransportTCP, ap("[1:2:3:4:5:6:7:8]:1"), ap("[::1]:2")}, 48, nil},
	{"v1 UNKNOWN keeps connection addresses", []byte("PROXY UNKNOWN\r\n"), Header{Version: 1, Local: true}, 15, nil},
	{"v1 UNKNOWN ignores the rest of the line", []byte("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), Header{Version: 1, Local: true}, 35, nil},
	{"v1 data after header stays", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nINVITE"),
		Header{1, false, TransportTCP, ap("1.2.3.4:1"), ap("5.6.7.8:2")}, 32, nil},
	{"v1 max 107 bytes accepted", append(append([]byte("PROXY UNKNOWN "), bytes.Repeat([]byte("x"), 91)...), "\r\n"...),
		Header{Version: 1, Local: true}, 107, nil},
	{"v1 line over 107 bytes", append([]byte("PROXY UNKNOWN "), bytes.Repeat([]byte("x"), 200)...), Header{}, 0, ErrInvalid},
	{"v1 line over 107 bytes with CRLF later", append(append([]byte("PROXY UNKNOWN "), bytes.Repeat([]byte("x"), 92)...), "\r\n"...), Header{}, 0, ErrInvalid},
	{"v1 source port 0 rejected (Kamailio)", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 0 5060\r\n"), Header{}, 0, ErrInvalid},
	{"v1 destination port 0 rejected", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 0\r\n"), Header{}, 0, ErrInvalid},
	{"v1 port above 65535", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n"), Header{}, 0, ErrInvalid},
	{"v1 signed port", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 +1 1\r\n"), Header{}, 0, ErrInvalid},
	{"v1 TCP4 with IPv6 address", []byte("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 TCP6 with IPv4 address", []byte("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 IPv4 octet above 255", []byte("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 IPv4 leading zero", []byte("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 IPv6 zone rejected", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 IPv6 two ellipses", []byte("PROXY TCP6 1::2::3 ::1 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 double space", []byte("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 missing field", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), Header{}, 0, ErrInvalid},
	{"v1 trailing field", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), Header{}, 0, ErrInvalid},
	{"v1 bare LF", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), Header{}, 0, ErrInvalid},
	{"v1 unknown protocol", []byte("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), Header{}, 0, ErrInvalid},
	{"v1 unknown protocol rejected before CRLF", []byte("PROXY UDP4"), Header{}, 0, ErrInvalid},
	{"v1 bad byte rejected before CRLF", []byte("PROXY TCP4 1.2.3.4 x"), Header{}, 0, ErrInvalid},
	{"v1 UNKNOWNX rejected before CRLF", []byte("PROXY UNKNOWNX"), Header{}, 0, ErrInvalid},
	{"v1 lowercase proxy is not PROXY", []byte("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), Header{}, 0, ErrNotProxy},
	{"v1 PROXY without space is not PROXY", []byte("PROXYTCP4"), Header{}, 0, ErrNotProxy},
	{"v1 prefix waits", []byte("PROX"), Header{}, 0, ErrIncomplete},
	{"v1 line without CRLF yet waits", []byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"), Header{}, 0, ErrIncomplete},

	// v2, §4.4
	{"v2 PROXY TCP over IPv4", v2(0x21, 0x11, inet4Body()),
		Header{2, false, TransportTCP, ap("1.2.3.4:1111"), ap("5.6.7.8:19062")}, 28, nil},
	{"v2 PROXY TCP over IPv6", v2(0x21, 0x21, inet6Body()),
		Header{2, false, TransportTCP, ap("[2001::1]:1111"), ap("[2001::2]:5060")}, 52, nil},
	{"v2 PROXY UDP over IPv4 parsed (caller rejects, §4.4)", v2(0x21, 0x12, inet4Body()),
		Header{2, false, TransportUDP, ap("1.2.3.4:1111"), ap("5.6.7.8:19062")}, 28, nil},
	{"v2 PROXY UDP over IPv6", v2(0x21, 0x22, inet6Body()),
		Header{2, false, TransportUDP, ap("[2001::1]:1111"), ap("[2001::2]:5060")}, 52, nil},
	{"v2 TLVs skipped within declared length", v2(0x21, 0x11, inet4Body(0x01, 0x00, 0x02, 'h', '2', 0x04, 0, 0)),
		Header{2, false, TransportTCP, ap("1.2.3.4:1111"), ap("5.6.7.8:19062")}, 36, nil},
	{"v2 LOCAL keeps connection addresses", v2(0x20, 0x00, nil), Header{Version: 2, Local: true}, 16, nil},
	{"v2 LOCAL ignores family and body", v2(0x20, 0x11, []byte{9, 9, 9}), Header{Version: 2, Local: true}, 19, nil},
	{"v2 PROXY AF_UNSPEC is Local", v2(0x21, 0x00, []byte{1, 2}), Header{Version: 2, Local: true}, 18, nil},
	{"v2 PROXY AF_UNIX stream is Local", v2(0x21, 0x31, make([]byte, 216)), Header{Version: 2, Local: true, Transport: TransportTCP}, 232, nil},
	{"v2 data after header stays", append(v2(0x21, 0x11, inet4Body()), "HEP3"...),
		Header{2, false, TransportTCP, ap("1.2.3.4:1111"), ap("5.6.7.8:19062")}, 28, nil},
	{"v2 version 1 rejected", v2(0x11, 0x11, inet4Body()), Header{}, 0, ErrInvalid},
	{"v2 version rejected at byte 13", append(v2Sig[:], 0x31), Header{}, 0, ErrInvalid},
	{"v2 unknown command", v2(0x22, 0x11, inet4Body()), Header{}, 0, ErrInvalid},
	{"v2 unknown command rejected at byte 13", append(v2Sig[:], 0x2f), Header{}, 0, ErrInvalid},
	{"v2 unknown family", v2(0x21, 0x41, inet4Body()), Header{}, 0, ErrInvalid},
	{"v2 unknown transport", v2(0x21, 0x13, inet4Body()), Header{}, 0, ErrInvalid},
	{"v2 AF_INET without transport", v2(0x21, 0x10, inet4Body()), Header{}, 0, ErrInvalid},
	{"v2 AF_INET length too short (§11.8)", v2(0x21, 0x11, inet4Body()[:11]), Header{}, 0, ErrInvalid},
	{"v2 AF_INET6 length too short (§11.8)", v2(0x21, 0x21, inet4Body()), Header{}, 0, ErrInvalid},
	{"v2 AF_UNIX length too short", v2(0x21, 0x31, inet4Body()), Header{}, 0, ErrInvalid},
	{"v2 port 0 rejected", v2(0x21, 0x11, []byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 1}), Header{}, 0, ErrInvalid},
	{"v2 declared length not yet read", v2(0x21, 0x11, inet4Body())[:27], Header{}, 0, ErrIncomplete},
	{"v2 signature prefix waits", v2Sig[:5], Header{}, 0, ErrIncomplete},
	{"v2 broken signature", []byte("\r\n\r\n\x00\r\nQUIT\x0b\x21\x11"), Header{}, 0, ErrNotProxy},

	// §4.2: anything else is not PROXY, decided from the first byte
	{"empty waits", nil, Header{}, 0, ErrIncomplete},
	{"SIP first segment", []byte("INVITE sip:a@b SIP/2.0\r\n"), Header{}, 0, ErrNotProxy},
	{"HEP3 first segment", []byte("HEP3"), Header{}, 0, ErrNotProxy},
	{"one byte is enough to reject", []byte("I"), Header{}, 0, ErrNotProxy},
	{"CRLF ping is a v2 signature prefix", []byte("\r\n\r\n"), Header{}, 0, ErrIncomplete},
	{"CRLF then SIP is not PROXY", []byte("\r\nINVITE"), Header{}, 0, ErrNotProxy},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		t.Run(tt.name, func(t *testing.T) {
			h, n, err := Parse(tt.in)
			if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if h != tt.want || n != tt.n {
				t.Fatalf("got %+v n=%d, want %+v n=%d", h, n, tt.want, tt.n)
			}
			if tt.err != nil {
				return
			}
			// Every proper prefix is ErrIncomplete: a header split at
			// every byte is waited for, never misjudged.
			for i := range tt.n {
				if _, _, err := Parse(tt.in[:i]); err != ErrIncomplete {
					t.Fatalf("prefix %d/%d: err = %v, want ErrIncomplete", i, tt.n, err)
				}
			}
		})
	}
}

func TestParseInvalidErrorDetail(t *testing.T) {
	_, _, err := Parse([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 0 1\r\n"))
	var ie *InvalidError
	if !errors.As(err, &ie) || ie.Version != 1 || ie.Reason != "source port not in 1..65535" {
		t.Fatalf("err = %#v", err)
	}
	if got := err.Error(); got != "proxyproto: invalid v1 header: source port not in 1..65535" {
		t.Fatalf("Error() = %q", got)
	}
}

// The real HAProxy 2.6 headers at the start of the recorded streams; the
// decode lists give the expected fields.
func TestParseHAProxyRecordings(t *testing.T) {
	for _, tt := range []struct {
		file string
		want Header
		n    int
	}{
		{"haproxy-proxy-v1-hep3-stream-2calls.bin", Header{1, false, TransportTCP, ap("127.0.0.1:38038"), ap("127.0.0.1:19061")}, 44},
		{"haproxy-proxy-v2-hep3-stream-2calls.bin", Header{2, false, TransportTCP, ap("127.0.0.1:54894"), ap("127.0.0.1:19062")}, 28},
	} {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("..", "..", "testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			h, n, err := Parse(b)
			if err != nil || h != tt.want || n != tt.n {
				t.Fatalf("got %+v n=%d err=%v, want %+v n=%d", h, n, err, tt.want, tt.n)
			}
			// n is exact: what follows is the recording's 26 HEP3 frames,
			// back to back to the last byte.
			frames := 0
			for p := b[n:]; len(p) > 0; frames++ {
				if len(p) < 6 || string(p[:4]) != "HEP3" {
					t.Fatalf("frame %d: bad start %q", frames, p[:min(len(p), 6)])
				}
				p = p[min(len(p), int(binary.BigEndian.Uint16(p[4:6]))):]
			}
			if frames != 26 {
				t.Fatalf("%d HEP3 frames after the header, want 26", frames)
			}
			for i := range n {
				if _, _, err := Parse(b[:i]); err != ErrIncomplete {
					t.Fatalf("split at %d: err = %v", i, err)
				}
			}
		})
	}
}

func TestParseIPv6MatchesNetip(t *testing.T) {
	for _, s := range []string{"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "::ffff:1.2.3.4", "1:2:3:4:5:6:1.2.3.4",
		"fe80::1:2", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", ":::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::",
		"1::2:3:4:5:6:7:8", "::1.2.3", "1.2.3.4", ":1", "1:", "::ffff:1.2.3.4:1", "1:2:3:4:5:6:7:1.2.3.4", "g::"} {
		want, err := netip.ParseAddr(s)
		got, ok := parseIPv6([]byte(s))
		if wantOK := err == nil && want.Is6(); ok != wantOK || ok && got != want.As16() {
			t.Errorf("%q: got %v %v, want %v %v", s, netip.AddrFrom16(got), ok, want, wantOK)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	for _, in := range [][]byte{
		[]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1111 5060\r\n"),
		[]byte("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 65535 1\r\n"),
		v2(0x21, 0x21, inet6Body()),
		[]byte("PROX"),
		[]byte("INVITE"),
	} {
		if a := testing.AllocsPerRun(100, func() { Parse(in) }); a != 0 {
			t.Errorf("%q: %v allocs", in, a)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	for _, file := range []string{"haproxy-proxy-v1-hep3-stream-2calls.bin", "haproxy-proxy-v2-hep3-stream-2calls.bin"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", file)); err == nil {
			f.Add(b[:60])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := Parse(b)
		if n < 0 || n > len(b) {
			t.Fatalf("n = %d, len %d", n, len(b))
		}
		if err == ErrIncomplete && (len(b) >= MaxLen || len(b) >= MaxV1Len && b[0] == 'P') {
			t.Fatalf("ErrIncomplete for %d bytes", len(b))
		}
		if err != nil {
			if n != 0 || h != (Header{}) {
				t.Fatalf("error %v with n=%d h=%+v", err, n, h)
			}
			if err != ErrIncomplete && err != ErrNotProxy && !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if n == 0 {
			t.Fatal("success with n = 0")
		}
		if h.Local && (h.Src.IsValid() || h.Dst.IsValid()) {
			t.Fatalf("Local header with addresses %+v", h)
		}
		if !h.Local && (h.Src.Port() == 0 || h.Dst.Port() == 0) {
			t.Fatalf("proxied header with port 0 %+v", h)
		}
		for i := range n {
			if _, _, err := Parse(b[:i]); err != ErrIncomplete {
				t.Fatalf("prefix %d of %d-byte header: %v", i, n, err)
			}
		}
		if h2, n2, err := Parse(b[:n]); err != nil || h2 != h || n2 != n {
			t.Fatalf("header alone parses differently: %+v %d %v", h2, n2, err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bb := range []struct {
		name string
		in   []byte
	}{
		{"v1", []byte("PROXY TCP4 127.0.0.1 127.0.0.1 38038 19061\r\n")},
		{"v2", v2(0x21, 0x11, inet4Body())},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Parse(bb.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
