package ingest

import (
	"context"
	"encoding/json"
	"github.com/hepd/hepd/internal/testvec"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/hep"
	"github.com/hepd/hepd/ingest/sip"
	"github.com/hepd/hepd/tcpstack"
)

// capture is an Output that keeps copies of what it is given.
type capture struct{ recs []Record }

func (c *capture) Write(_ context.Context, recs []Record) error {
	for _, r := range recs {
		c.recs = append(c.recs, Record{
			Table: r.Table, SID: clone(r.SID), CreateDate: r.CreateDate,
			ProtocolHeader: clone(r.ProtocolHeader), DataHeader: clone(r.DataHeader), Raw: clone(r.Raw),
		})
	}
	return nil
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

func newTestPipeline(t testing.TB, o Options) (*Pipeline, *capture) {
	t.Helper()
	out := &capture{}
	p, err := New(context.Background(), o, out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p, out
}

func deliverOne(p *Pipeline, data []byte, recv time.Time) {
	p.Deliver([]tcpstack.Frame{{Kind: tcpstack.FrameHEP3, Data: data, RecvTime: recv}})
}

// TestSpecVectors: the rows of hep3.md §11, identical to what Homer 7
// (heplify-server) writes once in jsonb: the same members, with the keys in
// jsonb's order rather than heplify-server's (PostgreSQL sorts them anyway,
// and has nothing to sort when they come in its order).
func TestSpecVectors(t *testing.T) {
	recv := time.Unix(1700000100, 0)
	for _, tc := range []struct {
		name, packet, table, sid string
		created                  time.Time
		ph, dh                   string
	}{
		{
			"vector 1 INVITE", testvec.Vector1, TableSIPCall, "a84b4c76e66710@192.0.2.10", time.Unix(1700000000, 123456000),
			`{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.10","dstIp":"198.51.100.20","srcPort":5060,"dstPort":5060,"timeSeconds":1700000000,"timeUseconds":123456,"payloadType":1,"captureId":"2001","correlation_id":"a84b4c76e66710@192.0.2.10"}`,
			`{"ruri_user":"bob","ruri_domain":"example.com","from_user":"alice","from_tag":"1928301774","to_user":"bob","to_tag":"","callid":"a84b4c76e66710@192.0.2.10","cseq":"314159 INVITE","method":"INVITE","user_agent":"TestUA/1.0"}`,
		},
		{
			"vector 2 REGISTER reply over IPv6", testvec.Vector2, TableSIPRegistration, "1j9FpLxk3uxtm8tn@2001:db8::10", time.Unix(1700000000, 124456000),
			`{"protocolFamily":10,"protocol":6,"srcIp":"2001:db8::20","dstIp":"2001:db8::10","srcPort":5060,"dstPort":40312,"timeSeconds":1700000000,"timeUseconds":124456,"payloadType":1,"captureId":"edge-1","capturePass":"myHep","correlation_id":"alegid-77"}`,
			`{"ruri_user":"","ruri_domain":"","from_user":"carol","from_tag":"a73kszlfl","to_user":"carol","to_tag":"37GkEhwl6","callid":"1j9FpLxk3uxtm8tn@2001:db8::10","cseq":"1826 REGISTER","method":"200","user_agent":""}`,
		},
		{
			"vector 3 RTCP", testvec.Vector3, TableRTCP, "a84b4c76e66710@192.0.2.10", time.Unix(1700000005, 0),
			`{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.10","dstIp":"198.51.100.20","srcPort":20001,"dstPort":30001,"timeSeconds":1700000005,"timeUseconds":0,"payloadType":5,"captureId":"2001","correlation_id":"a84b4c76e66710@192.0.2.10"}`,
			`{"node":"2001","proto":"rtcp"}`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, out := newTestPipeline(t, Options{})
			deliverOne(p, testvec.Bytes(tc.packet), recv)
			if len(out.recs) != 1 {
				t.Fatalf("%d records, want 1 (stats %+v)", len(out.recs), p.Stats())
			}
			r := out.recs[0]
			if r.Table != tc.table || string(r.SID) != tc.sid || !r.CreateDate.Equal(tc.created) {
				t.Errorf("table %s sid %s created %v; want %s %s %v", r.Table, r.SID, r.CreateDate, tc.table, tc.sid, tc.created)
			}
			sameJSONB(t, "protocol_header", r.ProtocolHeader, tc.ph)
			sameJSONB(t, "data_header", r.DataHeader, tc.dh)
		})
	}
}

// packet builds a HEP3 packet for routing tests.
func packet(protoType uint8, correlation, payload string) []byte {
	p := hep.Packet{
		Version: 3, Family: 2, Protocol: 17,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 5060, DstPort: 5060, TimeSec: 1700000000, TimeUsec: 1,
		ProtoType: protoType, NodeID: 7, CorrelationID: []byte(correlation), Payload: []byte(payload),
	}
	return hep.AppendHEP3(nil, &p)
}

func sipMsg(method, cseqMethod string) string {
	start := method + " sip:bob@example.com SIP/2.0"
	if method[0] >= '0' && method[0] <= '9' {
		start = "SIP/2.0 " + method + " OK"
	}
	return start + "\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\n" +
		"Call-ID: c-" + cseqMethod + "\r\nCSeq: 1 " + cseqMethod + "\r\nContent-Length: 0\r\n\r\n"
}

// TestRouting: homer-schema.md §4, one row per rule.
func TestRouting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pkt    []byte
		table  string // "" = not stored
		sid    string
		reason func(Stats) uint64
	}{
		{"INVITE to call", packet(1, "", sipMsg("INVITE", "INVITE")), TableSIPCall, "c-INVITE", nil},
		{"reply follows its CSeq method", packet(1, "", sipMsg("180", "INVITE")), TableSIPCall, "c-INVITE", nil},
		{"BYE to call", packet(1, "", sipMsg("BYE", "BYE")), TableSIPCall, "c-BYE", nil},
		{"NOTIFY in call", packet(1, "", sipMsg("NOTIFY", "NOTIFY")), TableSIPCall, "c-NOTIFY", nil},
		{"REGISTER to registration", packet(1, "", sipMsg("REGISTER", "REGISTER")), TableSIPRegistration, "c-REGISTER", nil},
		{"401 to REGISTER to registration", packet(1, "", sipMsg("401", "REGISTER")), TableSIPRegistration, "c-REGISTER", nil},
		{"OPTIONS to default", packet(1, "", sipMsg("OPTIONS", "OPTIONS")), TableSIPDefault, "c-OPTIONS", nil},
		{"MESSAGE to default", packet(1, "", sipMsg("MESSAGE", "MESSAGE")), TableSIPDefault, "c-MESSAGE", nil},
		{"RTCP with correlation", packet(5, "cid1", `{"a":1}`), TableRTCP, "cid1", nil},
		{"DNS with correlation", packet(53, "cid2", `{"q":"x"}`), TableDNS, "cid2", nil},
		{"log with correlation", packet(100, "cid3", "a log line"), TableLog, "cid3", nil},
		{"report 34 to catch-all", packet(34, "cid4", `{"mos":4.1}`), TableReport, "cid4", nil},
		{"type 99 to catch-all", packet(99, "cid5", "x"), TableReport, "cid5", nil},
		{"ISUP", packet(54, "", `{"cic":12,"dpc":300,"opc":200,"msg_name":"IAM","called_number":{"num":"123"},"calling_number":{"num":"456"}}`), TableISUP, "200:300:12", nil},
		{"RTCP without correlation dropped", packet(5, "", `{"a":1}`), "", "", func(s Stats) uint64 { return s.NoCorrelation }},
		{"type 0 filtered", packet(0, "x", "payload"), "", "", func(s Stats) uint64 { return s.Filtered }},
		{"SIP without CSeq dropped", packet(1, "", strings.Replace(sipMsg("INVITE", "INVITE"), "CSeq: 1 INVITE\r\n", "", 1)), "", "", func(s Stats) uint64 { return s.SIPInvalid }},
		{"SIP without Call-ID dropped", packet(1, "", strings.Replace(sipMsg("INVITE", "INVITE"), "Call-ID: c-INVITE\r\n", "", 1)), "", "", func(s Stats) uint64 { return s.SIPInvalid }},
		{"empty payload dropped", packet(1, "", ""), "", "", func(s Stats) uint64 { return s.NoPayload + s.Malformed["hep: no payload chunk"] + sumMap(s.Malformed) }},
		{"ISUP not JSON dropped", packet(54, "", "not json"), "", "", func(s Stats) uint64 { return s.BadPayload }},
		{"garbage dropped", []byte("GARBAGE GARBAGE"), "", "", func(s Stats) uint64 { return sumMap(s.Malformed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, out := newTestPipeline(t, Options{})
			deliverOne(p, tc.pkt, time.Unix(1700000000, 0))
			if tc.table == "" {
				if len(out.recs) != 0 {
					t.Fatalf("stored in %s, want dropped", out.recs[0].Table)
				}
				if tc.reason(p.Stats()) != 1 {
					t.Fatalf("drop not counted where expected: %+v", p.Stats())
				}
				return
			}
			if len(out.recs) != 1 {
				t.Fatalf("%d records (stats %+v)", len(out.recs), p.Stats())
			}
			if r := out.recs[0]; r.Table != tc.table || string(r.SID) != tc.sid {
				t.Fatalf("stored in %s with sid %q, want %s %q", r.Table, r.SID, tc.table, tc.sid)
			}
			for _, js := range [][]byte{out.recs[0].ProtocolHeader, out.recs[0].DataHeader} {
				if !json.Valid(js) {
					t.Fatalf("invalid JSON %s", js)
				}
			}
		})
	}
}

func sumMap(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

func TestISUPDataHeader(t *testing.T) {
	p, out := newTestPipeline(t, Options{})
	deliverOne(p, packet(54, "", `{"cic":12,"dpc":300,"opc":200,"msg_name":"IAM","called_number":{"num":"123"},"calling_number":{"num":"456"}}`), time.Now())
	if len(out.recs) != 1 {
		t.Fatalf("%d records", len(out.recs))
	}
	sameJSONB(t, "data_header", out.recs[0].DataHeader,
		`{"cic":12,"dpc":300,"opc":200,"msg_name":"IAM","called_number":"123","calling_number":"456","callid":"200:300:12"}`)
}

// TestEscaping: values that broke heplify-server's batches (quotes in node
// names, passwords and headers, control bytes, invalid UTF-8, NUL) give valid
// JSON that PostgreSQL's jsonb accepts.
func TestEscaping(t *testing.T) {
	payload := "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" +
		"From: \"A \\\"q\\\"\" <sip:a\\b@x>;tag=t\"1\r\nTo: <sip:b@x>\r\nCall-ID: id\x01\xff\x00x\r\nCSeq: 1 INVITE\r\n" +
		"User-Agent: ua\t\"quoted\" \\ back\r\nP-Charging-Vector: icid-value=\"AyretyU0dm+6O2IrT5tAFrbHLso=\"\r\nContent-Length: 0\r\n\r\n"
	pk := hep.Packet{
		Version: 3, Family: 2, Protocol: 17, SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		TimeSec: 1700000000, ProtoType: 1, NodeName: []byte(`node "1" \ x`), AuthKey: []byte("pa\"ss\\\n"),
		Payload: []byte(payload),
	}
	p, out := newTestPipeline(t, Options{ExtraHeaders: []string{"P-Charging-Vector", "X-Absent"}})
	deliverOne(p, hep.AppendHEP3(nil, &pk), time.Now())
	if len(out.recs) != 1 {
		t.Fatalf("not stored: %+v", p.Stats())
	}
	r := out.recs[0]
	var ph, dh map[string]any
	if err := json.Unmarshal(r.ProtocolHeader, &ph); err != nil {
		t.Fatalf("protocol_header %s: %v", r.ProtocolHeader, err)
	}
	if err := json.Unmarshal(r.DataHeader, &dh); err != nil {
		t.Fatalf("data_header %s: %v", r.DataHeader, err)
	}
	if ph["captureId"] != `node "1" \ x` || ph["capturePass"] != "pa\"ss\\\n" {
		t.Errorf("protocol_header %s", r.ProtocolHeader)
	}
	if dh["user_agent"] != "ua\t\"quoted\" \\ back" || dh["P-Charging-Vector"] != `icid-value="AyretyU0dm+6O2IrT5tAFrbHLso="` {
		t.Errorf("data_header %s", r.DataHeader)
	}
	if dh["callid"] != "id\x01x" {
		t.Errorf("callid %q: want control byte escaped, invalid UTF-8 and NUL dropped", dh["callid"])
	}
	if strings.Contains(string(r.Raw), "\x00") || strings.Contains(string(r.Raw), "\xff") {
		t.Errorf("raw keeps NUL or invalid UTF-8")
	}
	if strings.Contains(string(r.ProtocolHeader)+string(r.DataHeader), `\u0000`) {
		t.Errorf("\\u0000 is refused by jsonb")
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\r\n\t\b\f", `"\r\n\t\b\f"`},
		{"\x01\x1f", `"\u0001\u001f"`},
		{"nul\x00dropped", `"nuldropped"`},
		{"bad\xffutf8\xc3", `"badutf8"`},
		{"ünïcødé €", `"ünïcødé €"`},
		{"", `""`},
	} {
		got := string(appendJSONString(nil, []byte(tc.in)))
		if got != tc.want {
			t.Errorf("%q: got %s want %s", tc.in, got, tc.want)
		}
		var s string
		if err := json.Unmarshal([]byte(got), &s); err != nil {
			t.Errorf("%q: invalid JSON %s", tc.in, got)
		}
	}
}

// TestCaptureIDQuirk: sngrep and captagent put the id in the top half of
// the 4-byte chunk (testdata/README.md); Homer users expect "2002".
func TestCaptureIDQuirk(t *testing.T) {
	for _, tc := range []struct {
		id   uint32
		name string
		want string
	}{{2001, "", "2001"}, {0x07d20000, "", "2002"}, {0, "", "0"}, {0x10001, "", "65537"}, {5, "edge", "edge"}} {
		got := string(captureID(nil, &hep.Packet{NodeID: tc.id, NodeName: []byte(tc.name)}))
		if got != tc.want {
			t.Errorf("id %#x name %q: got %s want %s", tc.id, tc.name, got, tc.want)
		}
	}
}

func TestALegCorrelation(t *testing.T) {
	payload := strings.Replace(sipMsg("INVITE", "INVITE"), "Content-Length", "X-CID: aleg-1\r\nContent-Length", 1)
	for _, tc := range []struct {
		agent string
		force bool
		want  string
	}{{"", false, "aleg-1"}, {"agent-cid", false, "agent-cid"}, {"agent-cid", true, "aleg-1"}} {
		p, out := newTestPipeline(t, Options{ALegHeaders: []string{"X-CID"}, ForceALegID: tc.force,
			SIPKeys: []sip.Key{sip.KeyCallID, sip.KeyCallIDALeg}})
		deliverOne(p, packet(1, tc.agent, payload), time.Now())
		var ph map[string]any
		json.Unmarshal(out.recs[0].ProtocolHeader, &ph)
		if ph["correlation_id"] != tc.want {
			t.Errorf("agent %q force %v: correlation_id %v, want %s", tc.agent, tc.force, ph["correlation_id"], tc.want)
		}
		if want := `{"callid":"c-INVITE","callid_aleg":"aleg-1"}`; string(out.recs[0].DataHeader) != want {
			t.Errorf("data_header %s, want %s", out.recs[0].DataHeader, want)
		}
	}
}

func kamailioFrames(t testing.TB) []tcpstack.Frame {
	files, _ := filepath.Glob("../testdata/kamailio-hep3-frames/*.bin")
	if len(files) != 13 {
		t.Fatalf("%d frames in testdata", len(files))
	}
	var frames []tcpstack.Frame
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, tcpstack.Frame{Kind: tcpstack.FrameHEP3, Data: b, RecvTime: time.Now()})
	}
	return frames
}

// TestKamailioCall: the 13 frames of one real call all land in
// hep_proto_1_call with the call's Call-ID.
func TestKamailioCall(t *testing.T) {
	p, out := newTestPipeline(t, Options{})
	p.Deliver(kamailioFrames(t))
	if len(out.recs) != 13 {
		t.Fatalf("%d records, want 13: %+v", len(out.recs), p.Stats())
	}
	for _, r := range out.recs {
		if r.Table != TableSIPCall || string(r.SID) != "1-28115@127.0.0.1" {
			t.Errorf("%s %s", r.Table, r.SID)
		}
	}
}

type discard struct{}

func (discard) Write(context.Context, []Record) error { return nil }

// TestDeliverAllocationFree: a steady stream of SIP frames allocates nothing
// in the pipeline once its pool is warm.
func TestDeliverAllocationFree(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items; allocation counts are checked without -race")
	}
	p, err := New(context.Background(), Options{}, discard{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	frames := kamailioFrames(t)
	p.Deliver(frames)
	if n := testing.AllocsPerRun(100, func() { p.Deliver(frames) }); n != 0 {
		t.Fatalf("%v allocations per Deliver of 13 frames, want 0", n)
	}
}

// BenchmarkMessage measures HEP3 decode + SIP extraction + header JSON per
// typical SIP message (the Kamailio INVITE).
func BenchmarkMessage(b *testing.B) {
	p, err := New(context.Background(), Options{}, discard{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	frames := kamailioFrames(b)[:1]
	b.SetBytes(int64(len(frames[0].Data)))
	b.ReportAllocs()
	for b.Loop() {
		p.Deliver(frames)
	}
}

// BenchmarkCall is the same over the 13 messages of a real call.
func BenchmarkCall(b *testing.B) {
	p, err := New(context.Background(), Options{}, discard{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	frames := kamailioFrames(b)
	b.ReportAllocs()
	for b.Loop() {
		p.Deliver(frames)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(frames)), "ns/msg")
}

// TestRawSIPFrame: a SIP message framed by the TCP stack is stored with the
// connection's addresses (the PROXY source as Remote), over TCP, at the
// receive time; an invalid one is counted.
func TestRawSIPFrame(t *testing.T) {
	p, out := newTestPipeline(t, Options{RawCaptureID: "edge-7"})
	recv := time.Unix(1700000000, 250000000)
	p.Deliver([]tcpstack.Frame{
		{Kind: tcpstack.FrameSIP, Data: []byte(sipMsg("REGISTER", "REGISTER")), RecvTime: recv,
			Local: netip.MustParseAddrPort("[2001:db8::1]:5060"), Remote: netip.MustParseAddrPort("[2001:db8::9]:40000")},
		{Kind: tcpstack.FrameSIP, Data: []byte("NOT SIP AT ALL, NOT SIP AT ALL, NOT SIP\r\n\r\n"), RecvTime: recv},
	})
	if len(out.recs) != 1 || p.Stats().SIPInvalid != 1 || p.Stats().RawSIP != 2 {
		t.Fatalf("%d records, stats %+v", len(out.recs), p.Stats())
	}
	r := out.recs[0]
	if r.Table != TableSIPRegistration || !r.CreateDate.Equal(recv) {
		t.Fatalf("%s %v", r.Table, r.CreateDate)
	}
	sameJSONB(t, "protocol_header", r.ProtocolHeader, `{"protocolFamily":10,"protocol":6,"srcIp":"2001:db8::9","dstIp":"2001:db8::1",`+
		`"srcPort":40000,"dstPort":5060,"timeSeconds":1700000000,"timeUseconds":250000,"payloadType":1,"captureId":"edge-7","correlation_id":"c-REGISTER"}`)
}

// TestSIPPayloadText: a SIP payload is stored as the text PostgreSQL takes
// whether it came in HEP or raw: clean text as it is (valid UTF-8 beyond
// ASCII too), anything else without its NUL bytes and invalid UTF-8 and
// parsed from what is stored, even where the bytes dropped would have
// broken the parse; a payload of NULs only has none.
func TestSIPPayloadText(t *testing.T) {
	bye := sipMsg("BYE", "BYE")
	long := strings.Replace(bye, "Content-Length: 0", "X-Pad: "+strings.Repeat("p", 1100)+"\r\nContent-Length: 0", 1)
	for _, tc := range []struct {
		name, payload, stored, callID string
	}{
		{"ASCII", bye, bye, "c-BYE"},
		{"UTF-8", strings.Replace(bye, "From: <", "From: \"Zoë\" <", 1), strings.Replace(bye, "From: <", "From: \"Zoë\" <", 1), "c-BYE"},
		{"NUL in the start line", strings.Replace(bye, "BYE sip", "BYE\x00 sip", 1), bye, "c-BYE"},
		{"invalid UTF-8 in the Call-ID", strings.Replace(bye, "c-BYE", "c-\xffBYE", 1), bye, "c-BYE"},
		{"NUL past the mapped bytes", strings.Replace(long, "pp\r\n", "p\x00p\r\n", 1), long, "c-BYE"},
		{"NUL-terminated", bye + "\x00", bye, "c-BYE"},
		{"NULs only", strings.Repeat("\x00", 80), "", ""},
	} {
		for _, kind := range []tcpstack.FrameKind{tcpstack.FrameHEP3, tcpstack.FrameSIP} {
			p, out := newTestPipeline(t, Options{})
			data := []byte(tc.payload)
			if kind == tcpstack.FrameHEP3 {
				data = packet(1, "", tc.payload)
			}
			p.Deliver([]tcpstack.Frame{{Kind: kind, Data: data, RecvTime: time.Now()}})
			st := p.Stats()
			if tc.stored == "" {
				if len(out.recs) != 0 || st.NoPayload != 1 {
					t.Errorf("%s, frame kind %d: %d records, stats %+v; want none, counted as no payload", tc.name, kind, len(out.recs), st)
				}
				continue
			}
			if len(out.recs) != 1 {
				t.Fatalf("%s, frame kind %d: %d records, stats %+v", tc.name, kind, len(out.recs), st)
			}
			r := out.recs[0]
			if string(r.Raw) != tc.stored || string(r.SID) != tc.callID {
				t.Errorf("%s, frame kind %d: stored %q with sid %q; want %q with %q", tc.name, kind, r.Raw, r.SID, tc.stored, tc.callID)
			}
		}
	}
}

// TestDeliverCheckedReportsFailures: undecodable HEP and unparsable SIP are
// failures (tcp_script_mode acts on them); drops by design are not.
func TestDeliverCheckedReportsFailures(t *testing.T) {
	p, out := newTestPipeline(t, Options{})
	now := time.Now()
	frames := []tcpstack.Frame{
		{Kind: tcpstack.FrameHEP3, Data: packet(1, "", sipMsg("INVITE", "INVITE")), RecvTime: now},
		{Kind: tcpstack.FrameHEP3, Data: []byte("HEP3\x00\x07X"), RecvTime: now},
		{Kind: tcpstack.FrameSIP, Data: []byte(strings.Replace(sipMsg("BYE", "BYE"), "Call-ID: c-BYE\r\n", "", 1)), RecvTime: now},
		{Kind: tcpstack.FrameHEP3, Data: packet(0, "x", "type 0 is filtered by design"), RecvTime: now},
		{Kind: tcpstack.FrameHEP3, Data: packet(5, "", `{"no":"correlation"}`), RecvTime: now},
		{Kind: tcpstack.FrameSIP, Data: []byte(sipMsg("OPTIONS", "OPTIONS")), RecvTime: now},
	}
	failed := p.DeliverChecked(frames, nil)
	if !slices.Equal(failed, []int{1, 2}) || len(out.recs) != 2 {
		t.Fatalf("failed %v with %d records; want [1 2] and 2", failed, len(out.recs))
	}
}
