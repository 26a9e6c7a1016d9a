package sip

import (
	"bytes"
	"strings"
	"testing"
)

// checkAgainstDecode parses payload and compares it with the reference
// decode: first line, Call-ID, CSeq and payload length.
func checkAgainstDecode(t *testing.T, p *Parser, payload []byte, d decodedLine) *Message {
	t.Helper()
	var m Message
	if err := p.Parse(payload, &m); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(payload) != d.Length {
		t.Errorf("payload is %d bytes, decode says %d", len(payload), d.Length)
	}
	if got := string(firstLine(payload)); got != d.FirstLine {
		t.Errorf("first line %q, decode says %q", got, d.FirstLine)
	}
	if string(m.CallID) != d.CallID {
		t.Errorf("CallID = %q, want %q", m.CallID, d.CallID)
	}
	if string(m.CSeq) != d.CSeq {
		t.Errorf("CSeq = %q, want %q", m.CSeq, d.CSeq)
	}
	if _, want, _ := strings.Cut(d.CSeq, " "); string(m.CSeqMethod) != want {
		t.Errorf("CSeqMethod = %q, want %q", m.CSeqMethod, want)
	}
	// Method / status: from the first line, as Homer's "method" key.
	fl := d.FirstLine
	var wantMethod string
	if rest, ok := strings.CutPrefix(fl, "SIP/2.0 "); ok {
		wantMethod = rest[:3]
	} else {
		wantMethod, _, _ = strings.Cut(fl, " ")
	}
	if got := string(m.Field(KeyMethod)); got != wantMethod {
		t.Errorf("method = %q, want %q", got, wantMethod)
	}
	return &m
}

func TestKamailioFrames(t *testing.T) {
	p := mustParser(t, Options{})
	names, payloads := framePayloads(t)
	decoded := readDecoded(t, "kamailio-hep3-frames/frames.decoded.jsonl")
	if len(decoded) != len(payloads) || len(payloads) != 13 {
		t.Fatalf("%d frames, %d decoded lines, want 13", len(payloads), len(decoded))
	}
	for i, payload := range payloads {
		t.Run(names[i], func(t *testing.T) {
			if decoded[i].File != names[i] {
				t.Fatalf("decode line %d is for %s", i, decoded[i].File)
			}
			m := checkAgainstDecode(t, p, payload, decoded[i])
			// The rest of Homer's default data_header, as heplify-server stored
			// it for the same traffic (testdata README).
			if string(m.FromUser) != "sipp" || string(m.FromTag) != "28115SIPpTag001" || string(m.ToUser) != "service" {
				t.Errorf("from_user %q from_tag %q to_user %q", m.FromUser, m.FromTag, m.ToUser)
			}
			if m.IsRequest && (string(m.RURIUser) == "" || string(m.RURIDomain) != "127.0.0.1") {
				t.Errorf("ruri_user %q ruri_domain %q", m.RURIUser, m.RURIDomain)
			}
			if m.ContentLength >= 0 && len(m.Body) != m.ContentLength || m.HeaderLen+len(m.Body) != len(payload) {
				t.Errorf("HeaderLen %d + body %d != payload %d (Content-Length %d)", m.HeaderLen, len(m.Body), len(payload), m.ContentLength)
			}
		})
	}
}

func TestKamailioFrame01DataHeader(t *testing.T) {
	// Compare with the row heplify-server stored for an INVITE of this run
	// (testdata README; Call-ID and tag carry the pid of this recording).
	_, payloads := framePayloads(t)
	var m Message
	if err := mustParser(t, Options{}).Parse(payloads[0], &m); err != nil {
		t.Fatal(err)
	}
	want := `{"ruri_user":"service","ruri_domain":"127.0.0.1","from_user":"sipp","from_tag":"28115SIPpTag001","to_user":"service","to_tag":"","callid":"1-28115@127.0.0.1","cseq":"1 INVITE","method":"INVITE","user_agent":""}`
	if got := dataHeader(&m, DefaultKeys()); got != want {
		t.Errorf("data_header\n got %s\nwant %s", got, want)
	}
	if m.ContentLength != 129 || !bytes.HasPrefix(m.Body, []byte("v=0")) || !bytes.HasSuffix(m.Body, []byte("PCMU/8000\r\n")) {
		t.Errorf("ContentLength %d, body %q", m.ContentLength, m.Body)
	}
}

func TestHEP3TCPStreams(t *testing.T) {
	p := mustParser(t, Options{})
	for _, name := range []string{"kamailio-hep3-tcp-stream-5calls.bin", "heplify-hep3-tcp-stream-5calls.bin"} {
		t.Run(name, func(t *testing.T) {
			frames := hepFrames(t, readFile(t, name))
			decoded := readDecoded(t, name+".decoded.jsonl")
			if len(frames) != 65 || len(decoded) != 65 {
				t.Fatalf("%d frames, %d decoded lines, want 65", len(frames), len(decoded))
			}
			profiles := map[string]int{}
			for i, f := range frames {
				payload, err := hepPayload(f)
				if err != nil {
					t.Fatalf("frame %d: %v", i+1, err)
				}
				m := checkAgainstDecode(t, p, payload, decoded[i])
				profiles[Profile(m.CSeqMethod)]++
			}
			if profiles["call"] != 65 {
				t.Errorf("profiles %v, want all 65 in call", profiles)
			}
		})
	}
}

func TestRawSIPStream(t *testing.T) {
	p := mustParser(t, Options{})
	stream := readFile(t, "sipp-raw-sip-tcp-stream-5calls.bin")
	msgs := splitSIPStream(t, stream)
	decoded := readDecoded(t, "sipp-raw-sip-tcp-stream-5calls.bin.decoded.jsonl")
	if len(msgs) != 45 || len(decoded) != 45 {
		t.Fatalf("%d messages, %d decoded lines, want 45", len(msgs), len(decoded))
	}
	profiles := map[string]int{}
	for i, msg := range msgs {
		m := checkAgainstDecode(t, p, msg, decoded[i])
		profiles[Profile(m.CSeqMethod)]++
		// Parse frames the message exactly as the independent splitter did.
		if m.HeaderLen+len(m.Body) != len(msg) || len(m.Body) != m.ContentLength {
			t.Errorf("message %d: HeaderLen %d + body %d, Content-Length %d, message %d bytes",
				i+1, m.HeaderLen, len(m.Body), m.ContentLength, len(msg))
		}
	}
	if profiles["call"] != 35 || profiles["default"] != 10 {
		t.Errorf("profiles %v, want call 35, default 10 (MESSAGE and its 200)", profiles)
	}
}

func TestRawSIPStreamCompactMessage(t *testing.T) {
	p := mustParser(t, Options{})
	msgs := splitSIPStream(t, readFile(t, "sipp-raw-sip-tcp-stream-5calls.bin"))
	var m Message
	if err := p.Parse(msgs[5], &m); err != nil { // message 6 = call 1's MESSAGE
		t.Fatal(err)
	}
	want := map[string]string{
		"Method": "MESSAGE", "RURIUser": "bob", "RURIDomain": "127.0.0.1",
		"ViaBranch": "z9hG4bK-1388-1-5",
		"FromUser":  "alice", "FromDomain": "127.0.0.1", "FromTag": "1-alice",
		"ToUser": "service", "ToDomain": "127.0.0.1", "ToTag": "1-bob",
		"CallID": "1-1388@127.0.0.1", "CSeq": "2 MESSAGE", "ContentType": "text/plain",
		"ContentLength": "65",
		"Body":          "call 1: first paragraph\r\n\r\nsecond paragraph after an empty line\r\n",
	}
	got := fieldMap(&m)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	if Profile(m.CSeqMethod) != "default" {
		t.Errorf("Profile = %q, want default", Profile(m.CSeqMethod))
	}
}
