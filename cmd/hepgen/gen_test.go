package main

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/hep"
)

var testNow = time.Date(2026, 11, 29, 14, 0, 45, 83640_000, time.UTC)

func testGenerator() *generator {
	return &generator{
		prefix: "t3st", nodeID: 2001, nodeName: []byte("gen"), password: []byte("pw"),
		now: func() time.Time { return testNow },
	}
}

// sipMessage is what a test reads back from a generated payload.
type sipMessage struct {
	first   string
	headers map[string]string
	body    string
}

func parseSIP(t *testing.T, payload []byte) sipMessage {
	t.Helper()
	head, body, ok := strings.Cut(string(payload), "\r\n\r\n")
	if !ok {
		t.Fatalf("no end of headers in %q", payload)
	}
	lines := strings.Split(head, "\r\n")
	m := sipMessage{first: lines[0], headers: make(map[string]string), body: body}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("bad header line %q", l)
		}
		if _, dup := m.headers[k]; dup {
			t.Fatalf("duplicate header %q", k)
		}
		m.headers[k] = v
	}
	return m
}

// labelOf derives the counting label from the start line, independently of
// the generator.
func labelOf(first string) string {
	if rest, ok := strings.CutPrefix(first, "SIP/2.0 "); ok {
		return rest[:3]
	}
	method, _, _ := strings.Cut(first, " ")
	return method
}

func TestGeneratedTrafficDecodes(t *testing.T) {
	cfg := config{calls: 3, registrations: 2, options: 2, conns: 1}
	g := testGenerator()
	byLabel := map[string]int{}
	byTable := map[string]int{}
	callIDs := map[string]int{} // Call-ID → unit
	for i := range cfg.units() {
		u := cfg.unit(i)
		var seq []string
		for m := range u.kind.messages() {
			frame, l := g.appendMessage(nil, u, m)
			var p hep.Packet
			if err := hep.Decode(frame, &p); err != nil {
				t.Fatalf("unit %d message %d: %v", i, m, err)
			}
			if p.ProtoType != 1 || p.NodeID != 2001 || string(p.NodeName) != "gen" || string(p.AuthKey) != "pw" ||
				p.Family != 2 || p.Protocol != 17 || p.Trailing != 0 {
				t.Errorf("unit %d message %d: HEP fields %+v", i, m, p)
			}
			if got, _ := hep.CaptureTime(&p, testNow); !got.Equal(testNow) {
				t.Errorf("capture time %v, want %v", got, testNow)
			}
			for _, a := range []string{p.SrcIP.String(), p.DstIP.String()} {
				if !strings.HasPrefix(a, "10.") {
					t.Errorf("address %s outside 10/8", a)
				}
			}
			msg := parseSIP(t, p.Payload)
			name := labelOf(msg.first)
			if name != l.String() {
				t.Errorf("start line %q counted as %s", msg.first, l)
			}
			seq = append(seq, name)
			byLabel[name]++

			checkHeaders(t, msg, name)
			_, method, _ := strings.Cut(msg.headers["CSeq"], " ")
			switch method {
			case "INVITE", "ACK", "BYE":
				byTable["hep_proto_1_call"]++
			case "REGISTER":
				byTable["hep_proto_1_registration"]++
			default:
				byTable["hep_proto_1_default"]++
			}
			if want := tableOf(u.kind).String(); want != tableFor(method) {
				t.Errorf("CSeq %s counted in %s", method, want)
			}
			id := msg.headers["Call-ID"]
			if prev, ok := callIDs[id]; ok && prev != i {
				t.Errorf("Call-ID %s used by units %d and %d", id, prev, i)
			}
			callIDs[id] = i
			if name == "REGISTER" && msg.headers["CSeq"] == "2 REGISTER" {
				checkDigest(t, msg)
			}
		}
		wantSeq := map[kind]string{
			kindCall:         "INVITE 100 180 200 ACK BYE 200",
			kindRegistration: "REGISTER 401 REGISTER 200",
			kindOptions:      "OPTIONS 200",
		}[u.kind]
		if got := strings.Join(seq, " "); got != wantSeq {
			t.Errorf("unit %d: %s, want %s", i, got, wantSeq)
		}
	}
	wantLabels := map[string]int{"INVITE": 3, "100": 3, "180": 3, "200": 3*2 + 2 + 2, "ACK": 3, "BYE": 3, "REGISTER": 4, "401": 2, "OPTIONS": 2}
	for k, v := range wantLabels {
		if byLabel[k] != v {
			t.Errorf("%s: %d messages, want %d", k, byLabel[k], v)
		}
	}
	if len(byLabel) != len(wantLabels) {
		t.Errorf("labels %v, want %v", byLabel, wantLabels)
	}
	if byTable["hep_proto_1_call"] != 21 || byTable["hep_proto_1_registration"] != 8 || byTable["hep_proto_1_default"] != 4 {
		t.Errorf("tables %v", byTable)
	}
	if len(callIDs) != cfg.units() {
		t.Errorf("%d Call-IDs, want one per unit (%d)", len(callIDs), cfg.units())
	}
}

func tableFor(cseqMethod string) string {
	switch cseqMethod {
	case "INVITE", "ACK", "BYE":
		return "hep_proto_1_call"
	case "REGISTER":
		return "hep_proto_1_registration"
	}
	return "hep_proto_1_default"
}

func checkHeaders(t *testing.T, msg sipMessage, name string) {
	t.Helper()
	h := msg.headers
	for _, k := range []string{"Via", "From", "To", "Call-ID", "CSeq", "Content-Length"} {
		if h[k] == "" {
			t.Errorf("%s: no %s header", name, k)
		}
	}
	if !strings.Contains(h["Via"], ";branch=z9hG4bK") {
		t.Errorf("%s: Via %q without an RFC 3261 branch", name, h["Via"])
	}
	if !strings.Contains(h["From"], ";tag=") {
		t.Errorf("%s: From %q without a tag", name, h["From"])
	}
	if n, err := strconv.Atoi(h["Content-Length"]); err != nil || n != len(msg.body) {
		t.Errorf("%s: Content-Length %q, body %d bytes", name, h["Content-Length"], len(msg.body))
	}
	request := !strings.HasPrefix(msg.first, "SIP/2.0")
	if request && (h["Max-Forwards"] != "70" || h["User-Agent"] == "") {
		t.Errorf("%s: Max-Forwards %q, User-Agent %q", name, h["Max-Forwards"], h["User-Agent"])
	}
	// Every response but 100 Trying carries the UAS's To tag, and so do the
	// in-dialog requests.
	toTag := (!request && name != "100") || name == "ACK" || name == "BYE"
	if toTag != strings.Contains(h["To"], ";tag=") {
		t.Errorf("%s: To %q", name, h["To"])
	}
	if (name == "INVITE" || (name == "200" && strings.HasSuffix(h["CSeq"], "INVITE"))) &&
		(h["Content-Type"] != "application/sdp" || !strings.HasPrefix(msg.body, "v=0\r\n")) {
		t.Errorf("%s: no SDP body", name)
	}
	if (name == "INVITE" || name == "REGISTER") && h["Contact"] == "" {
		t.Errorf("%s: no Contact", name)
	}
}

// checkDigest verifies the Authorization response the way a registrar would.
func checkDigest(t *testing.T, msg sipMessage) {
	t.Helper()
	auth, ok := strings.CutPrefix(msg.headers["Authorization"], "Digest ")
	if !ok {
		t.Fatalf("second REGISTER without digest Authorization: %q", msg.headers["Authorization"])
	}
	params := map[string]string{}
	for _, kv := range strings.Split(auth, ", ") {
		k, v, _ := strings.Cut(kv, "=")
		params[k] = strings.Trim(v, `"`)
	}
	md5hex := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1 := md5hex(params["username"] + ":" + params["realm"] + ":" + sipSecret)
	ha2 := md5hex("REGISTER:" + params["uri"])
	want := md5hex(ha1 + ":" + params["nonce"] + ":" + params["nc"] + ":" + params["cnonce"] + ":" + params["qop"] + ":" + ha2)
	if params["response"] != want {
		t.Errorf("digest response %s, want %s (%v)", params["response"], want, params)
	}
}

func TestGeneratorDoesNotAllocate(t *testing.T) {
	g := testGenerator()
	buf := make([]byte, 0, 64<<10)
	all := func() {
		for _, k := range []kind{kindCall, kindRegistration, kindOptions} {
			for m := range k.messages() {
				buf, _ = g.appendMessage(buf[:0], unit{k, 12345}, m)
			}
		}
	}
	all() // grow the generator's buffers
	if n := testing.AllocsPerRun(50, all); n != 0 {
		t.Errorf("%v allocs per call+registration+ping, want 0", n)
	}
}

func BenchmarkGenerateCall(b *testing.B) {
	g := testGenerator()
	buf := make([]byte, 0, 64<<10)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf = buf[:0]
		for m := range kindCall.messages() {
			buf, _ = g.appendMessage(buf, unit{kindCall, i}, m)
		}
	}
	b.SetBytes(int64(len(buf)))
}
