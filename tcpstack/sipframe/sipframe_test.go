package sipframe

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func msg(headers string, body string) string {
	return "OPTIONS sip:a@b SIP/2.0\r\n" + headers + "\r\n" + body
}

func hep3Frame(n int) string {
	b := make([]byte, n)
	copy(b, "HEP3")
	binary.BigEndian.PutUint16(b[4:], uint16(n))
	for i := 6; i < n; i++ {
		b[i] = byte(i)
	}
	return string(b)
}

func sip(s string, hdr, cl int) Result {
	n := hdr + max(cl, 0)
	return Result{Kind: SIP, N: n, HeaderLen: hdr, ContentLength: cl}
}

func skip(n int) Result { return Result{Kind: Skip, N: n} }

var (
	ping  = Result{Kind: Ping, N: 4}
	tailT = func(n int) Result { return Result{Kind: Incomplete, N: n} } // bytes left over at the end
)

var defOpts = Options{CRLFPing: true, Max: DefaultMax}

// hdrLen of msg(h, ""): request line + headers + CRLF.
func hl(headers string) int { return len(msg(headers, "")) }

type frameTest struct {
	name string
	o    Options
	in   string
	want []Result // results in order; a trailing Incomplete's N is the unconsumed tail
	err  error
	// lead: the row depends on bytes skipped in an earlier call counting
	// against Max, which only a Scanner remembers.
	lead bool
}

var frameTests = []frameTest{
	// §2.1 buffer and message boundaries
	{name: "§2.1 two pipelined messages in one buffer", o: defOpts,
		in:   msg("Content-Length: 3\r\n", "abc") + msg("l: 0\r\n", ""),
		want: []Result{sip("", hl("Content-Length: 3\r\n"), 3), sip("", hl("l: 0\r\n"), 0)}},
	{name: "§2.1 partial second message waits", o: defOpts,
		in:   msg("l: 1\r\n", "x") + "OPTIONS sip:a@b SIP/2.0\r\nl: 5",
		want: []Result{sip("", hl("l: 1\r\n"), 1), tailT(29)}},

	// §2.2 leading bytes
	{name: "§2.2 lone CRLF before a message is skipped without pong", o: defOpts,
		in: "\r\n" + msg("l: 0\r\n", ""), want: []Result{skip(2), sip("", hl("l: 0\r\n"), 0)}},
	{name: "§2.2 LF SP HT are skipped", o: defOpts,
		in: "\n \t\n" + msg("l: 0\r\n", ""), want: []Result{skip(4), sip("", hl("l: 0\r\n"), 0)}},
	{name: "§2.2 CRLFCRLF is a ping", o: defOpts, in: "\r\n\r\n", want: []Result{ping}},
	{name: "§2.2 ping then message then ping", o: defOpts,
		in:   "\r\n\r\n" + msg("l: 0\r\n", "") + "\r\n\r\n",
		want: []Result{ping, sip("", hl("l: 0\r\n"), 0), ping}},
	{name: "§2.2 two pings back to back", o: defOpts, in: "\r\n\r\n\r\n\r\n", want: []Result{ping, ping}},
	{name: "§2.2 ping prefix waits for more bytes", o: defOpts, in: "\r\n\r", want: []Result{tailT(3)}},
	{name: "§2.2 broken CRLFCR sequence: breaking byte starts the message", o: defOpts,
		in: "\r\n\r" + msg("l: 0\r\n", ""), want: []Result{skip(3), sip("", hl("l: 0\r\n"), 0)}},
	{name: "§2.2 breaking CR re-examined as a boundary byte", o: defOpts,
		in: "\r\n\r\r\n\r\n", want: []Result{skip(3), ping}},
	{name: "§2.2 LFLF never pings", o: defOpts, in: "\n\n\n\n", want: []Result{skip(4)}},
	{name: "§2.2 LF before CRLFCRLF then ping", o: defOpts, in: "\n\r\n\r\n", want: []Result{skip(1), ping}},
	{name: "§1.14 tcp_crlf_ping=no skips CRLFCRLF", o: Options{Max: DefaultMax},
		in: "\r\n\r\n" + msg("l: 0\r\n", ""), want: []Result{skip(4), sip("", hl("l: 0\r\n"), 0)}},
	{name: "§2.2 NUL first byte is an ordinary byte without STUN", o: defOpts,
		in: "\x00X\r\nl: 0\r\n\r\n", want: []Result{sip("", 12, 0)}},

	// §2.3 header scanning and Content-Length
	{name: "§2.3 compact l:", o: defOpts, in: msg("l: 3\r\n", "abc"), want: []Result{sip("", hl("l: 3\r\n"), 3)}},
	{name: "§2.3 compact L: upper case", o: defOpts, in: msg("L:3\r\n", "abc"), want: []Result{sip("", hl("L:3\r\n"), 3)}},
	{name: "§2.3 name is case-insensitive", o: defOpts,
		in: msg("CONTENT-length: 3\r\n", "abc"), want: []Result{sip("", hl("CONTENT-length: 3\r\n"), 3)}},
	{name: "§2.3 Content_Length is accepted", o: defOpts,
		in: msg("Content_Length: 3\r\n", "abc"), want: []Result{sip("", hl("Content_Length: 3\r\n"), 3)}},
	{name: "§2.3 whitespace before the colon", o: defOpts,
		in: msg("Content-Length \t : 3\r\n", "abc"), want: []Result{sip("", hl("Content-Length \t : 3\r\n"), 3)}},
	{name: "§2.3 padded value as SIPp sends it", o: defOpts,
		in: msg("Content-Length:   3\r\n", "abc"), want: []Result{sip("", hl("Content-Length:   3\r\n"), 3)}},
	{name: "§2.3 value ends at SP and the rest of the line is ignored", o: defOpts,
		in: msg("Content-Length: 3 x\r\n", "abc"), want: []Result{sip("", hl("Content-Length: 3 x\r\n"), 3)}},
	{name: "§2.3 value ends at HT", o: defOpts,
		in: msg("Content-Length: 3\t\r\n", "abc"), want: []Result{sip("", hl("Content-Length: 3\t\r\n"), 3)}},
	{name: "§2.3 LF-only line ends, LF LF ends headers", o: defOpts,
		in: "OPTIONS sip:a@b SIP/2.0\nl: 3\n\nabc", want: []Result{sip("", 30, 3)}},
	{name: "§2.3 LF CR LF ends headers", o: defOpts,
		in: "OPTIONS sip:a@b SIP/2.0\nl: 3\n\r\nabc", want: []Result{sip("", 31, 3)}},
	{name: "§2.3 CR alone is not a line end", o: defOpts,
		in: "OPTIONS sip:a@b SIP/2.0\r\rl: 3\r\r\r\n\r\nabc", want: nil, err: ErrNoContentLength},
	{name: "§2.3 12a: bad value, header treated as absent", o: defOpts,
		in: msg("Content-Length: 12a\r\n", ""), err: ErrNoContentLength},
	{name: "§2.3 12a: bad value reported as ErrBadContentLength too", o: defOpts,
		in: msg("Content-Length: 12a\r\n", ""), err: ErrBadContentLength},
	{name: "§2.3 12a with tcp_accept_no_cl ends at the headers", o: Options{AcceptNoCL: true, CRLFPing: true},
		in: msg("Content-Length: 12a\r\n", ""), want: []Result{sip("", hl("Content-Length: 12a\r\n"), -1)}},
	{name: "§2.3 no digits: absent, a later Content-Length is used", o: defOpts,
		in: msg("Content-Length: abc\r\nl: 3\r\n", "abc"), want: []Result{sip("", hl("Content-Length: abc\r\nl: 3\r\n"), 3)}},
	{name: "§2.3 empty value: absent", o: defOpts, in: msg("Content-Length:\r\n", ""), err: ErrNoContentLength},
	{name: "§2.3 negative value: no sign handling, absent", o: defOpts, in: msg("Content-Length: -3\r\n", "abc"), err: ErrBadContentLength},
	{name: "§2.3 overflow closes the connection", o: defOpts, in: msg("Content-Length: 2147483640\r\n", ""), err: ErrBadContentLength},
	{name: "§2.3 largest value below the overflow guard is only too large", o: defOpts, in: msg("Content-Length: 2147483639\r\n", ""), err: ErrTooLarge},
	{name: "§2.3 only the first Content-Length is used", o: defOpts,
		in: msg("Content-Length: 3\r\nContent-Length: 5\r\n", "abcde"), want: []Result{sip("", hl("Content-Length: 3\r\nContent-Length: 5\r\n"), 3), tailT(2)}},
	{name: "§2.3 Content-Length in a continuation line counts (quirk)", o: defOpts,
		in: msg("Subject: x\r\n  Content-Length: 3\r\n", "abc"), want: []Result{sip("", hl("Subject: x\r\n  Content-Length: 3\r\n"), 3)}},
	{name: "§2.3 folded Content-Length value is not usable", o: defOpts,
		in: msg("Content-Length:\r\n 3\r\n", "abc"), err: ErrNoContentLength},
	{name: "§2.3 Content-Length only at a line start", o: defOpts,
		in: msg("X-Content-Length: 3\r\nSubject: l: 3\r\n", "abc"), err: ErrNoContentLength},
	{name: "§2.3 other header starting with l or c", o: defOpts,
		in: msg("Lx: 1\r\nContact: <sip:x>\r\nl: 1\r\n", "x"), want: []Result{sip("", hl("Lx: 1\r\nContact: <sip:x>\r\nl: 1\r\n"), 1)}},
	{name: "§2.3 whitespace-only line does not end headers", o: defOpts,
		in: msg("l: 1\r\n \r\n", "x"), want: []Result{sip("", hl("l: 1\r\n \r\n"), 1)}},

	// §2.4 body and completion
	{name: "§2.4 body containing an empty line is split by Content-Length only", o: defOpts,
		in:   msg("l: 11\r\n", "line1\r\n\r\nl2") + msg("l: 0\r\n", ""),
		want: []Result{sip("", hl("l: 11\r\n"), 11), sip("", hl("l: 0\r\n"), 0)}},
	{name: "§2.4 Content-Length 0 ends at the blank line", o: defOpts,
		in: msg("l: 0\r\n", ""), want: []Result{sip("", hl("l: 0\r\n"), 0)}},
	{name: "§2.4 body not yet complete waits", o: defOpts,
		in: msg("l: 10\r\n", "abc"), want: []Result{tailT(hl("l: 10\r\n") + 3)}},
	{name: "§1.5 no Content-Length rejected (tcp_accept_no_cl=no)", o: defOpts,
		in: msg("Subject: x\r\n", "abc"), err: ErrNoContentLength},
	{name: "§1.5 no Content-Length accepted: ends at headers, body starts the next message", o: Options{AcceptNoCL: true},
		in: msg("Subject: x\r\n", "abc"), want: []Result{sip("", hl("Subject: x\r\n"), -1), tailT(3)}},

	// §1.26 size limit
	{name: "§1.26 message of exactly Max bytes", o: Options{Max: 100},
		in: msg("l: 66\r\n", strings.Repeat("x", 66)), want: []Result{sip("", 34, 66)}},
	{name: "§1.26 message of Max+1 bytes fails once headers end", o: Options{Max: 100},
		in: msg("l: 67\r\n", strings.Repeat("x", 67)), err: ErrTooLarge},
	{name: "§1.26 headers reaching Max without end fail", o: Options{Max: 100},
		in: msg("Subject: "+strings.Repeat("x", 200)+"\r\n", ""), err: ErrTooLarge},
	{name: "§1.26 headers of exactly Max bytes without Content-Length (no_cl=yes)", o: Options{Max: 100, AcceptNoCL: true},
		in: msg("Subject: "+strings.Repeat("x", 100-25-2-11)+"\r\n", ""), want: []Result{sip("", 100, -1)}},
	{name: "§1.26 skipped CRLF counts against Max", o: Options{Max: 100}, lead: true,
		in: "\n\n" + msg("l: 66\r\n", strings.Repeat("x", 66)), want: []Result{skip(2)}, err: ErrTooLarge},
	{name: "§1.26 skipped bytes are forgotten after a message", o: Options{Max: 100, CRLFPing: true}, lead: true,
		in:   "\n\n" + msg("l: 0\r\n", "") + msg("l: 66\r\n", strings.Repeat("x", 66)),
		want: []Result{skip(2), sip("", 33, 0), sip("", 34, 66)}},

	// §3 HEP3 detection at message boundaries
	{name: "§3.1 HEP3 frame", o: Options{AcceptHEP3: true}, in: hep3Frame(20), want: []Result{{Kind: HEP3, N: 20}}},
	{name: "§3.1 HEP3 frame between SIP messages and pings", o: Options{AcceptHEP3: true, CRLFPing: true},
		in:   msg("l: 1\r\n", "x") + hep3Frame(30) + "\r\n\r\n" + hep3Frame(6) + msg("l: 0\r\n", ""),
		want: []Result{sip("", hl("l: 1\r\n"), 1), {Kind: HEP3, N: 30}, ping, {Kind: HEP3, N: 6}, sip("", hl("l: 0\r\n"), 0)}},
	{name: "§3.1 HEP3 after a lone CRLF is skipped to (hepd, §11.2)", o: Options{AcceptHEP3: true, CRLFPing: true},
		in: "\r\n" + hep3Frame(20), want: []Result{skip(2), {Kind: HEP3, N: 20}}},
	{name: "§3.1 fewer than 6 bytes wait instead of falling to SIP (§11.2)", o: Options{AcceptHEP3: true},
		in: "HEP3\x00", want: []Result{tailT(5)}},
	{name: "§3.1 HEP3 is case-sensitive", o: Options{AcceptHEP3: true},
		in: "hep3\x00\x20\r\nl: 0\r\n\r\n", want: []Result{sip("", 16, 0)}},
	{name: "§3.1 HE then not P is SIP", o: Options{AcceptHEP3: true},
		in: "HEX\r\nl: 0\r\n\r\n", want: []Result{sip("", 13, 0)}},
	{name: "§3.2 length below 6 fails (§11.3)", o: Options{AcceptHEP3: true}, in: "HEP3\x00\x05xxxx", err: ErrBadHEP3Length},
	{name: "§3.2 length 0 fails", o: Options{AcceptHEP3: true}, in: "HEP3\x00\x00", err: ErrBadHEP3Length},
	{name: "§3.2 length of exactly Max", o: Options{AcceptHEP3: true, Max: 100}, in: hep3Frame(100), want: []Result{{Kind: HEP3, N: 100}}},
	{name: "§3.2 length Max+1 fails at once (§11.3)", o: Options{AcceptHEP3: true, Max: 100}, in: hep3Frame(101)[:6], err: ErrTooLarge},
	{name: "§3.2 length Max+1 is a bad HEP3 length", o: Options{AcceptHEP3: true, Max: 100}, in: hep3Frame(101)[:6], err: ErrBadHEP3Length},
	{name: "§3.3 HEP3 framing does not need tcp_accept_no_cl (§11.1)", o: Options{AcceptHEP3: true, AcceptNoCL: false},
		in: hep3Frame(7) + hep3Frame(8), want: []Result{{Kind: HEP3, N: 7}, {Kind: HEP3, N: 8}}},
	{name: "§3.1 HEP3 bytes without tcp_accept_hep3 go to the SIP parser", o: defOpts,
		in: "HEP3\x00\x30\x00\x0f\r\nContent-Length: 2\r\n\r\nab", want: []Result{sip("", 31, 2)}},
}

// run feeds in to a Scanner in the given chunks and collects the results,
// merging adjacent Skips (how many bytes are handed back per Skip depends
// on the chunking) and ending with the unconsumed tail as Incomplete.
func run(t testing.TB, in string, cuts []int, o Options, oneShot bool) ([]Result, error) {
	var s Scanner
	var out []Result
	var pending []byte
	prev := 0
	for _, c := range append(cuts, len(in)) {
		pending = append(pending, in[prev:c]...)
		prev = c
		for len(pending) > 0 {
			var r Result
			var err error
			if oneShot {
				r, err = Next(pending, o)
			} else {
				r, err = s.Next(pending, o)
			}
			if err != nil {
				return out, err
			}
			if r.N < 0 || r.N > len(pending) {
				t.Fatalf("N = %d with %d bytes", r.N, len(pending))
			}
			if r.Kind == Incomplete {
				if r.N != 0 {
					t.Fatalf("Incomplete with N = %d", r.N)
				}
				break
			}
			if r.N == 0 {
				t.Fatalf("%v without progress", r.Kind)
			}
			if r.Kind == Skip && len(out) > 0 && out[len(out)-1].Kind == Skip {
				out[len(out)-1].N += r.N
			} else {
				out = append(out, r)
			}
			pending = pending[r.N:]
		}
	}
	if len(pending) > 0 {
		out = append(out, Result{Kind: Incomplete, N: len(pending)})
	}
	return out, nil
}

func check(t *testing.T, how string, tt frameTest, got []Result, err error) {
	t.Helper()
	if tt.err == nil && err != nil || tt.err != nil && !errors.Is(err, tt.err) {
		t.Fatalf("%s: err = %v, want %v", how, err, tt.err)
	}
	if len(got) != len(tt.want) {
		t.Fatalf("%s: got %+v, want %+v", how, got, tt.want)
	}
	for i := range got {
		if got[i] != tt.want[i] {
			t.Fatalf("%s: result %d = %+v, want %+v (all: %+v)", how, i, got[i], tt.want[i], got)
		}
	}
}

func TestNext(t *testing.T) {
	for _, tt := range frameTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := run(t, tt.in, nil, tt.o, false)
			check(t, "scanner one-shot", tt, got, err)
			if !tt.lead {
				got, err := run(t, tt.in, nil, tt.o, true)
				check(t, "Next one-shot", tt, got, err)
			}
			for k := 1; k < len(tt.in); k++ {
				got, err := run(t, tt.in, []int{k}, tt.o, false)
				check(t, "cut at "+itoa(k), tt, got, err)
			}
			var every []int
			for k := 1; k < len(tt.in); k++ {
				every = append(every, k)
			}
			got, err = run(t, tt.in, every, tt.o, false)
			check(t, "byte by byte", tt, got, err)
		})
	}
}

func itoa(i int) string {
	return string(binaryAppendInt(nil, i))
}

func binaryAppendInt(b []byte, i int) []byte {
	if i >= 10 {
		b = binaryAppendInt(b, i/10)
	}
	return append(b, byte('0'+i%10))
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decodedLengths reads the "length" of every message or frame in a
// reference decode.
func decodedLengths(t testing.TB, name string) []int {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []int
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Length *int `json:"length"`
			HEP    *struct {
				Length int `json:"length"`
			} `json:"hep"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		switch {
		case rec.HEP != nil:
			out = append(out, rec.HEP.Length)
		case rec.Length != nil:
			out = append(out, *rec.Length)
		}
	}
	return out
}

func TestRecordedStreams(t *testing.T) {
	for _, tt := range []struct {
		file string
		o    Options
		kind Kind
		n    int
	}{
		{"sipp-raw-sip-tcp-stream-5calls.bin", defOpts, SIP, 45},
		{"kamailio-hep3-tcp-stream-5calls.bin", Options{AcceptHEP3: true, CRLFPing: true}, HEP3, 65},
		{"heplify-hep3-tcp-stream-5calls.bin", Options{AcceptHEP3: true, CRLFPing: true}, HEP3, 65},
	} {
		t.Run(tt.file, func(t *testing.T) {
			in := readTestdata(t, tt.file)
			want := decodedLengths(t, tt.file+".decoded.jsonl")
			if len(want) != tt.n {
				t.Fatalf("reference lists %d, want %d", len(want), tt.n)
			}
			for _, chunk := range []int{0, 1, 7, 1460} {
				var cuts []int
				for k := chunk; chunk > 0 && k < len(in); k += chunk {
					cuts = append(cuts, k)
				}
				got, err := run(t, string(in), cuts, tt.o, false)
				if err != nil {
					t.Fatalf("chunk %d: %v", chunk, err)
				}
				if len(got) != len(want) {
					t.Fatalf("chunk %d: %d results, want %d", chunk, len(got), len(want))
				}
				off := 0
				for i, r := range got {
					if r.Kind != tt.kind || r.N != want[i] {
						t.Fatalf("chunk %d: result %d = %+v, want %v of %d", chunk, i, r, tt.kind, want[i])
					}
					if r.Kind == SIP {
						m := in[off : off+r.N]
						if !bytes.HasSuffix(m[:r.HeaderLen], []byte("\r\n\r\n")) {
							t.Fatalf("message %d: header block does not end in CRLFCRLF", i)
						}
					}
					off += r.N
				}
			}
		})
	}
}

// The SIPp MESSAGE's body has an empty line: framing on it instead of on
// Content-Length would cut 46+ messages.
func TestRecordedMessageBodyWithEmptyLine(t *testing.T) {
	in := readTestdata(t, "sipp-raw-sip-tcp-stream-5calls.bin")
	var s Scanner
	found := false
	for len(in) > 0 {
		r, err := s.Next(in, defOpts)
		if err != nil || r.Kind != SIP {
			t.Fatalf("%+v %v", r, err)
		}
		body := in[r.HeaderLen:r.N]
		if bytes.HasPrefix(in, []byte("MESSAGE ")) {
			found = bytes.Contains(body, []byte("\r\n\r\n")) || bytes.Contains(body, []byte("\n\n"))
			if !bytes.Contains(in[:r.HeaderLen], []byte("\nl:")) {
				t.Fatal("MESSAGE without compact l:")
			}
		}
		in = in[r.N:]
	}
	if !found {
		t.Fatal("no MESSAGE with an empty line in its body")
	}
}

// The first Kamailio HEP3 frame read with tcp_accept_hep3 off: the SIP
// parser finds the payload's Content-Length at a line start and cuts where
// Kamailio would; Kamailio then fails to parse it as SIP and closes.
func TestHEP3WithoutAcceptHEP3IsFramedAsSIP(t *testing.T) {
	in := readTestdata(t, "kamailio-hep3-tcp-stream-5calls.bin")
	r, err := Next(in, defOpts)
	if err != nil || r.Kind != SIP || r.ContentLength != 129 {
		t.Fatalf("%+v %v", r, err)
	}
	if hdr := bytes.Index(in, []byte("\r\n\r\n")) + 4; r.HeaderLen != hdr || r.N != hdr+129 {
		t.Fatalf("%+v, header end at %d", r, hdr)
	}
}

// A 16 KiB message trickled in one byte at a time must cost O(n) in total.
func TestScannerLinearOnTrickle(t *testing.T) {
	body := strings.Repeat("x", 100)
	var h strings.Builder
	for h.Len() < 16*1024 {
		h.WriteString("Subject: " + strings.Repeat("y", 60) + "\r\n")
	}
	in := msg(h.String()+"Content-Length: 100\r\n", body)
	o := Options{Max: 1 << 16}
	var s Scanner
	calls := 0
	for k := 1; k <= len(in); k++ {
		r, err := s.Next([]byte(in[:k]), o)
		calls++
		if err != nil {
			t.Fatal(err)
		}
		if k < len(in) && r.Kind != Incomplete || k == len(in) && r.N != len(in) {
			t.Fatalf("at %d: %+v", k, r)
		}
	}
	if len(in) < 16*1024 {
		t.Fatalf("message is %d bytes", len(in))
	}
	if s.scanned > len(in) {
		t.Fatalf("scanned %d bytes for a %d-byte message over %d calls: not O(n)", s.scanned, len(in), calls)
	}
	// The same measure on a fresh Scanner per call (no memory) is quadratic;
	// this guards the counter itself against measuring nothing.
	var total int
	for k := 1; k <= len(in); k += 512 {
		var fresh Scanner
		fresh.Next([]byte(in[:k]), o)
		total += fresh.scanned
	}
	if total < len(in)*8 {
		t.Fatalf("fresh scanners scanned only %d bytes", total)
	}
}

func TestNextAllocs(t *testing.T) {
	sipp := readTestdata(t, "sipp-raw-sip-tcp-stream-5calls.bin")
	hep := readTestdata(t, "kamailio-hep3-tcp-stream-5calls.bin")
	o := Options{AcceptHEP3: true, CRLFPing: true}
	for name, in := range map[string][]byte{"sip": sipp, "hep3": hep, "ping": []byte("\r\n\r\n"), "partial": sipp[:100]} {
		if a := testing.AllocsPerRun(50, func() {
			var s Scanner
			for b := in; len(b) > 0; {
				r, err := s.Next(b, o)
				if err != nil || r.Kind == Incomplete {
					break
				}
				b = b[r.N:]
			}
		}); a != 0 {
			t.Errorf("%s: %v allocs", name, a)
		}
	}
	if a := testing.AllocsPerRun(50, func() { Next([]byte("HEP3\x00\x01"), o) }); a != 0 {
		t.Errorf("error path: %v allocs", a)
	}
}

func FuzzScanner(f *testing.F) {
	for _, tt := range frameTests {
		f.Add([]byte(tt.in), uint64(0x9e3779b97f4a7c15), uint8(0))
	}
	sipp, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "sipp-raw-sip-tcp-stream-5calls.bin"))
	hep, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "kamailio-hep3-tcp-stream-5calls.bin"))
	if len(sipp) > 2000 && len(hep) > 2000 {
		f.Add(sipp[:2000], uint64(12345), uint8(1))
		f.Add(hep[:2000], uint64(777), uint8(3))
		f.Add(append(append([]byte("\r\n\r\n"), sipp[:1200]...), hep[:700]...), uint64(31), uint8(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, flags uint8) {
		o := Options{AcceptHEP3: flags&1 != 0, CRLFPing: flags&2 != 0, AcceptNoCL: flags&4 != 0, Max: 64 + int(flags>>3)*64}
		// Arbitrary bytes: never a panic, N within the buffer, progress.
		want, wantErr := run(t, string(in), nil, o, false)
		// Arbitrary chunking of the same bytes gives the same results.
		var cuts []int
		x := seed | 1
		for k := 0; ; {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			k += 1 + int(x%37)
			if k >= len(in) {
				break
			}
			cuts = append(cuts, k)
		}
		got, err := run(t, string(in), cuts, o, false)
		if !errors.Is(err, wantErr) || (err == nil) != (wantErr == nil) {
			t.Fatalf("chunked err %v, one-shot err %v", err, wantErr)
		}
		if len(got) != len(want) {
			t.Fatalf("chunked %+v, one-shot %+v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("result %d: chunked %+v, one-shot %+v", i, got[i], want[i])
			}
		}
		// Stateless Next agrees with the Scanner up to the first Skip
		// (after which only a Scanner counts skipped bytes against Max).
		r1, e1 := Next(in, o)
		var s Scanner
		r2, e2 := s.Next(in, o)
		if r1 != r2 || e1 != e2 {
			t.Fatalf("Next %+v %v, Scanner %+v %v", r1, e1, r2, e2)
		}
		TopViaAlias(in)
	})
}

func BenchmarkNextSIP(b *testing.B) {
	benchScan(b, "sipp-raw-sip-tcp-stream-5calls.bin", defOpts)
}

func BenchmarkNextHEP3(b *testing.B) {
	benchScan(b, "kamailio-hep3-tcp-stream-5calls.bin", Options{AcceptHEP3: true, CRLFPing: true})
}

// benchScan cuts a recorded stream into its messages with one Scanner.
func benchScan(b *testing.B, file string, o Options) {
	in := readTestdata(b, file)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		var s Scanner
		for p := in; len(p) > 0; {
			r, err := s.Next(p, o)
			if err != nil || r.Kind == Incomplete {
				b.Fatal(r, err)
			}
			p = p[r.N:]
		}
	}
}
