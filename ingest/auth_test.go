package ingest

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/hep"
	"github.com/hepd/hepd/tcpstack"
)

// keyed builds a SIP HEP3 packet carrying auth key key ("" sends no
// auth-key chunk).
func keyed(key, callID string) []byte {
	p := hep.Packet{
		Version: 3, Family: 2, Protocol: 6,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 5060, DstPort: 5060, TimeSec: 1700000000, TimeUsec: 1,
		ProtoType: 1, NodeID: 7, AuthKey: []byte(key), Payload: []byte(withCallID(sipMsg("INVITE", "INVITE"), callID)),
	}
	return hep.AppendHEP3(nil, &p)
}

func withCallID(msg, callID string) string {
	return strings.Replace(msg, "Call-ID: c-INVITE", "Call-ID: c-"+callID, 1)
}

// keepAlive is a HEP3 keep-alive (chunk 0x000d, no payload) with key.
func keepAlive(key string) []byte {
	b := []byte("HEP3\x00\x00\x00\x00\x00\x0d\x00\x08\x00\x1e")
	if key != "" {
		b = append(b, 0, 0, 0, 0x0e, 0, byte(6+len(key)))
		b = append(b, key...)
	}
	b[4], b[5] = byte(len(b)>>8), byte(len(b))
	return b
}

// authListeners: a and b require different keys, open requires none, sip
// requires one for HEP but takes raw SIP (a sip_listen address).
func authListeners() []*Listener {
	return []*Listener{
		{Name: "a", AuthKey: []byte("alpha")},
		{Name: "b", AuthKey: []byte("beta")},
		{Name: "open"},
		{Name: "sip", AuthKey: []byte("delta"), RawSIP: true},
	}
}

// TestAuthKey: per listener, a HEP packet is stored only with that
// listener's key; a missing, wrong, shorter or longer key, another
// listener's key, HEPv1/v2 and raw SIP on a HEP listener are refused,
// reported as failed frames (tcp_script_mode acts on them) and counted per
// listener.
func TestAuthKey(t *testing.T) {
	const a, b, open, sipL, outbound = 0, 1, 2, 3, -1
	rawSIP := []byte(sipMsg("OPTIONS", "raw"))
	for _, tc := range []struct {
		name     string
		listener int
		kind     tcpstack.FrameKind
		data     []byte
		stored   bool
	}{
		{"right key", a, tcpstack.FrameHEP3, keyed("alpha", "a1"), true},
		{"right key with trailing NULs (stripped, as by the decoder)", a, tcpstack.FrameHEP3, keyed("alpha\x00\x00", "a2"), true},
		{"no auth-key chunk", a, tcpstack.FrameHEP3, keyed("", "a3"), false},
		{"wrong key", a, tcpstack.FrameHEP3, keyed("alphA", "a4"), false},
		{"prefix of the key", a, tcpstack.FrameHEP3, keyed("alph", "a5"), false},
		{"key plus one byte", a, tcpstack.FrameHEP3, keyed("alphaa", "a6"), false},
		{"another listener's key", a, tcpstack.FrameHEP3, keyed("beta", "a7"), false},
		{"legacy HEPv2 has no key", a, tcpstack.FrameHEP3, legacyV2(t), false},
		{"raw SIP on a HEP listener with a key", a, tcpstack.FrameSIP, rawSIP, false},
		{"keep-alive without the key", a, tcpstack.FrameHEP3, keepAlive(""), false},
		{"keep-alive with the key (not stored, not refused)", a, tcpstack.FrameHEP3, keepAlive("alpha"), false},
		{"second listener: its own key", b, tcpstack.FrameHEP3, keyed("beta", "b1"), true},
		{"second listener: the first one's key", b, tcpstack.FrameHEP3, keyed("alpha", "b2"), false},
		{"listener without a key: no key", open, tcpstack.FrameHEP3, keyed("", "o1"), true},
		{"listener without a key: any key", open, tcpstack.FrameHEP3, keyed("whatever", "o2"), true},
		{"listener without a key: raw SIP", open, tcpstack.FrameSIP, rawSIP, true},
		{"SIP capture address: raw SIP", sipL, tcpstack.FrameSIP, rawSIP, true},
		{"SIP capture address: HEP without its key", sipL, tcpstack.FrameHEP3, keyed("", "s1"), false},
		{"SIP capture address: HEP with its key", sipL, tcpstack.FrameHEP3, keyed("delta", "s2"), true},
		{"outbound connection: no listener, no check", outbound, tcpstack.FrameHEP3, keyed("", "x1"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, out := newTestPipeline(t, Options{Listeners: authListeners()})
			frames := []tcpstack.Frame{{Kind: tc.kind, Data: tc.data, RecvTime: time.Now(), Listener: tc.listener}}
			failed := p.DeliverChecked(frames, nil)
			if got := len(out.recs) == 1; got != tc.stored {
				t.Fatalf("stored %v, want %v (stats %+v)", got, tc.stored, p.Stats())
			}
			st := p.Stats()
			var rejected uint64
			for _, n := range st.AuthRejected {
				rejected += n
			}
			keepAliveOK := tc.name == "keep-alive with the key (not stored, not refused)"
			if refused := !tc.stored && !keepAliveOK; refused != (rejected == 1) || refused != (len(failed) == 1) {
				t.Fatalf("refused %v: AuthRejected %v, failed frames %v", refused, st.AuthRejected, failed)
			}
			if keepAliveOK && st.KeepAlives != 1 {
				t.Fatalf("keep-alive with the key not counted as one: %+v", st)
			}
			if rejected == 1 && st.AuthRejected[authListeners()[tc.listener].Name] != 1 {
				t.Fatalf("refusal counted on the wrong listener: %v", st.AuthRejected)
			}
		})
	}
}

// TestCheckedKeyNotStored: a key the listener checked is a secret and is
// not written as capturePass; an unchecked one is, as heplify-server does.
func TestCheckedKeyNotStored(t *testing.T) {
	p, out := newTestPipeline(t, Options{Listeners: authListeners()})
	p.Deliver([]tcpstack.Frame{
		{Kind: tcpstack.FrameHEP3, Data: keyed("alpha", "k1"), RecvTime: time.Now(), Listener: 0},
		{Kind: tcpstack.FrameHEP3, Data: keyed("agent-pw", "k2"), RecvTime: time.Now(), Listener: 2},
	})
	if len(out.recs) != 2 {
		t.Fatalf("%d records", len(out.recs))
	}
	if ph := string(out.recs[0].ProtocolHeader); strings.Contains(ph, "capturePass") {
		t.Errorf("checked key stored: %s", ph)
	}
	if ph := string(out.recs[1].ProtocolHeader); !strings.Contains(ph, `"capturePass":"agent-pw"`) {
		t.Errorf("unchecked key not stored as capturePass: %s", ph)
	}
}

// TestAuthRejectedPerListener: the counters of several listeners in one
// pipeline; every listener with a key is listed, at 0 too, and one without
// a key is not.
func TestAuthRejectedPerListener(t *testing.T) {
	p, out := newTestPipeline(t, Options{Listeners: authListeners()})
	now := time.Now()
	var frames []tcpstack.Frame
	add := func(l int, key string, n int) {
		for i := range n {
			frames = append(frames, tcpstack.Frame{Kind: tcpstack.FrameHEP3, Data: keyed(key, "c"+itoa(l)+"-"+itoa(i)), RecvTime: now, Listener: l})
		}
	}
	add(0, "alpha", 5)
	add(0, "beta", 3)
	add(1, "beta", 4)
	add(1, "", 2)
	add(2, "", 6)
	failed := p.DeliverChecked(frames, nil)
	if len(out.recs) != 15 || len(failed) != 5 {
		t.Fatalf("%d records, %d failed; want 15 and 5", len(out.recs), len(failed))
	}
	want := map[string]uint64{"a": 3, "b": 2, "sip": 0}
	if got := p.Stats().AuthRejected; !maps.Equal(got, want) {
		t.Fatalf("AuthRejected %v, want %v", got, want)
	}
}

// TestUDPAuthKey: over UDP, only datagrams with the listener's key are
// stored; raw SIP on a HEP listener with a key is refused.
func TestUDPAuthKey(t *testing.T) {
	l := &Listener{Name: "udp-hep", AuthKey: []byte("s3cret")}
	out := &syncCapture{}
	p, err := New(context.Background(), Options{Listeners: []*Listener{l}}, out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	o := udpTestOptions
	o.Listener = l
	drainUDP(t, p, o, keyed("s3cret", "u1"), keyed("s3cre", "u2"), keyed("", "u3"),
		[]byte(withCallID(sipMsg("INVITE", "INVITE"), "u4")), keyed("s3cret", "u5"))
	var sids []string
	for _, r := range out.recs {
		sids = append(sids, string(r.SID))
	}
	if !slices.Equal(sids, []string{"c-u1", "c-u5"}) || l.AuthRejected() != 3 {
		t.Fatalf("stored %v, %d refused; want [c-u1 c-u5] and 3", sids, l.AuthRejected())
	}
}

func TestKeyMatches(t *testing.T) {
	for _, tc := range []struct {
		got, want string
		ok        bool
	}{
		{"k", "k", true}, {"key", "key", true}, {"", "key", false}, {"ke", "key", false},
		{"keyy", "key", false}, {"kez", "key", false}, {"KEY", "key", false},
	} {
		if keyMatches([]byte(tc.got), []byte(tc.want)) != tc.ok {
			t.Errorf("keyMatches(%q, %q) = %v", tc.got, tc.want, !tc.ok)
		}
	}
}

// TestDeliverWithAuthKeyAllocationFree: the key check adds no allocation to
// the accepted path.
func TestDeliverWithAuthKeyAllocationFree(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items; allocation counts are checked without -race")
	}
	l := &Listener{Name: "a", AuthKey: []byte("alpha")}
	p, err := New(context.Background(), Options{Listeners: []*Listener{l}}, discard{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var frames []tcpstack.Frame
	for i := range 13 {
		frames = append(frames, tcpstack.Frame{Kind: tcpstack.FrameHEP3, Data: keyed("alpha", "n"+itoa(i)), RecvTime: time.Now()})
	}
	p.Deliver(frames)
	if n := testing.AllocsPerRun(100, func() { p.Deliver(frames) }); n != 0 {
		t.Fatalf("%v allocations per Deliver of 13 keyed frames, want 0", n)
	}
	if l.AuthRejected() != 0 {
		t.Fatalf("%d refused", l.AuthRejected())
	}
}

// BenchmarkMessageAuthKey is BenchmarkMessage with a listener key to check.
func BenchmarkMessageAuthKey(b *testing.B) {
	l := &Listener{Name: "a", AuthKey: []byte("a-capture-password")}
	p, err := New(context.Background(), Options{Listeners: []*Listener{l}}, discard{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	frames := []tcpstack.Frame{{Kind: tcpstack.FrameHEP3, Data: keyed("a-capture-password", "bench"), RecvTime: time.Now()}}
	b.SetBytes(int64(len(frames[0].Data)))
	b.ReportAllocs()
	for b.Loop() {
		p.Deliver(frames)
	}
}
