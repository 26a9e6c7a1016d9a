package sipframe

import (
	"os"
	"path/filepath"
	"testing"
)

// One row per rule of tcp-params.md §5.2.
var aliasTests = []struct {
	name string
	in   string
	port uint16
	ok   bool
}{
	{"§5.4 request with ;alias gives the Via port", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5099;alias\r\n\r\n", 5099, true},
	{"§5.2 alias value is irrelevant", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5099;branch=z9;alias=no;rport\r\n\r\n", 5099, true},
	{"§5.2 no port: 5060 (connection is TCP)", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP host.example;alias\r\n\r\n", 5060, true},
	{"§5.2 default follows the connection, not the Via transport", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TLS host.example;alias\r\n\r\n", 5060, true},
	{"§5.2 IPv6 sent-by", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP [2001:db8::1]:5070;alias\r\n\r\n", 5070, true},
	{"§5.2 compact v: header, LWS around / and :", "OPTIONS sip:a@b SIP/2.0\r\nv : SIP / 2.0 / TCP 1.2.3.4 : 5080 ; ALIAS\r\n\r\n", 5080, true},
	{"§5.2 folded Via value", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP\r\n 1.2.3.4:5081\r\n ;alias\r\n\r\n", 5081, true},
	{"§5.2 quoted parameter value before alias", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5082;x=\"a;b\";alias\r\n\r\n", 5082, true},
	{"§5.2 LF-only lines", "OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP 1.2.3.4:5083;alias\n\n", 5083, true},
	{"§5.2 responses never", "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 1.2.3.4:5099;alias\r\n\r\n", 0, false},
	{"§5.2 no alias parameter", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5099;branch=z9hG4bK;rport\r\n\r\n", 0, false},
	{"§5.2 aliasx is another parameter", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5099;aliasx\r\n\r\n", 0, false},
	{"§5.2 only the top Via counts", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5099\r\nVia: SIP/2.0/TCP 5.6.7.8:5090;alias\r\n\r\n", 0, false},
	{"§5.2 only the first via-parm of the top Via", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5099, SIP/2.0/TCP 5.6.7.8:5090;alias\r\n\r\n", 0, false},
	{"§5.2 alias in a later header is not a Via", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:5099\r\nContact: <sip:x;alias>\r\n\r\n", 0, false},
	{"§5.2 Via after the headers (body) is ignored", "OPTIONS sip:a@b SIP/2.0\r\nl: 40\r\n\r\nVia: SIP/2.0/TCP 1.2.3.4:5099;alias\r\n", 0, false},
	{"§5.2 header named Via-X is not Via", "OPTIONS sip:a@b SIP/2.0\r\nVia-X: SIP/2.0/TCP 1.2.3.4:5099;alias\r\n\r\n", 0, false},
	{"§5.2 bad port", "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP 1.2.3.4:70000;alias\r\n\r\n", 0, false},
	{"§5.2 malformed Via", "OPTIONS sip:a@b SIP/2.0\r\nVia: garbage;alias\r\n\r\n", 0, false},
	{"§5.2 no headers", "OPTIONS sip:a@b SIP/2.0", 0, false},
}

func TestTopViaAlias(t *testing.T) {
	for _, tt := range aliasTests {
		t.Run(tt.name, func(t *testing.T) {
			port, ok := TopViaAlias([]byte(tt.in))
			if port != tt.port || ok != tt.ok {
				t.Fatalf("got %d %v, want %d %v", port, ok, tt.port, tt.ok)
			}
		})
	}
}

// SIPp's recorded requests carry no ;alias: none may report one.
func TestTopViaAliasRecorded(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("..", "..", "testdata", "sipp-raw-sip-tcp-stream-5calls.bin"))
	if err != nil {
		t.Fatal(err)
	}
	var s Scanner
	for len(in) > 0 {
		r, err := s.Next(in, defOpts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := TopViaAlias(in[:r.N]); ok {
			t.Fatalf("alias reported in %q", in[:60])
		}
		in = in[r.N:]
	}
}

func TestTopViaAliasAllocs(t *testing.T) {
	in := []byte(aliasTests[5].in)
	if a := testing.AllocsPerRun(100, func() { TopViaAlias(in) }); a != 0 {
		t.Fatalf("%v allocs", a)
	}
}
