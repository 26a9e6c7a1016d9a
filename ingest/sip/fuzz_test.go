package sip

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// fuzzOptions exercises the extra- and A-leg-header paths.
func fuzzOptions() Options {
	return Options{
		ExtraHeaders: []string{"X-Foo", "Subject", "P-Charging-Vector", "k"},
		ALegHeaders:  []string{"X-CID", "X-Leg"},
	}
}

// seedPayloads returns every payload the tests know: the spec vectors, the
// recorded traffic and hand-made edge cases.
func seedPayloads(t testing.TB) [][]byte {
	seeds := [][]byte{
		vectorPayload(t, vector1Hex, 269),
		vectorPayload(t, vector2Hex, 261),
		n8Payload(t),
	}
	_, frames := framePayloads(t)
	seeds = append(seeds, frames...)
	seeds = append(seeds, splitSIPStream(t, readFile(t, "sipp-raw-sip-tcp-stream-5calls.bin"))...)
	for _, s := range []string{
		crlf(inv, cid, cseq, `From: "unterminated <sip:a@h>;tag=1`),
		crlf(inv, cid, cseq, `From: "esc at end\`),
		crlf(inv, cid, cseq, `To: <sip:a@[2001:db8::1`, `Contact: <sip:@>`, `P-Asserted-Identity: <`),
		crlf(inv, cid, cseq, `Authorization: Digest username="`, `Proxy-Authorization: Digest ,,,=,"`),
		crlf(inv, cid, cseq, "Via: ;;;=;\"", "v: SIP/2.0/UDP h;branch=\"q\\\"x\";alias"),
		crlf("SIP/2.0 200 OK", "i: x", "CSeq: 1 REGISTER", "l: 999999999"),
		crlf("SIP/2.0 200 OK", "i: x", "CSeq: 1 REGISTER", "l: 9999999999999999999999"),
		crlf(inv, "X-CID: a", "X-Leg: b", "x-foo: c", "s: d", "k: e", "Call-ID:\r\n folded", cseq),
		"\n\n" + strings.ReplaceAll(crlf(inv, cid, cseq, "Content-Length: 3"), "\r\n", "\n") + "abcdef",
		inv + "\r\n" + cid + "\r\n" + cseq + "\r\n \r\n\t\r\n",
		"INVITE sip:a@b SIP/2.0\r\n" + strings.Repeat("\x00", 40),
		"SIP/2.0 100 \x00\r\nCall-ID: \xff\xfe\r\nCSeq: 1 \x00\x00\x00\r\n\r\n",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range seedPayloads(f) {
		f.Add(s)
	}
	p := mustParser(f, fuzzOptions())
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		err := p.Parse(b, &m)

		for name, s := range sliceFields(&m) {
			if !within(b, s) {
				t.Fatalf("%s = %q is not a sub-slice of the input", name, s)
			}
		}
		for k := Key(1); k < numKeys; k++ {
			if !within(b, m.Field(k)) {
				t.Fatalf("Field(%v) is not a sub-slice of the input", k)
			}
		}
		if m.HeaderLen < 0 || m.HeaderLen > len(b) {
			t.Fatalf("HeaderLen %d outside 0..%d", m.HeaderLen, len(b))
		}
		if err == nil {
			if len(b) <= 32 || len(m.CallID) == 0 || len(m.CSeqMethod) < 3 {
				t.Fatalf("accepted: %d bytes, CallID %q, CSeqMethod %q", len(b), m.CallID, m.CSeqMethod)
			}
			if m.IsRequest != (m.Method != nil) || m.IsRequest == (m.Status != nil) {
				t.Fatalf("IsRequest %v, Method %q, Status %q", m.IsRequest, m.Method, m.Status)
			}
			if !m.IsRequest && (m.StatusCode < 100 || m.StatusCode > 999) {
				t.Fatalf("StatusCode %d", m.StatusCode)
			}
		}

		checkParseKeys(t, p, b, &m, err)

		// Idempotent, and a reused Message carries nothing over: parse
		// something else into it first, then b again.
		var again Message
		_ = p.Parse([]byte(crlf(inv, "X-CID: x", "X-Foo: y", "Via: SIP/2.0/UDP h;alias", cid, cseq)), &again)
		err2 := p.Parse(b, &again)
		if err2 != err || !reflect.DeepEqual(m, again) {
			t.Fatalf("second parse differs: err %v vs %v\n%+v\n%+v", err, err2, m, again)
		}
	})
}

// parseKeySets are the key lists ParseKeys is checked with: Homer's
// default, one key, the keys whose headers Parse does most work for, and
// every value a Key can have.
func parseKeySets() [][]Key {
	var all []Key
	for k := Key(0); k < 255; k++ {
		all = append(all, k)
	}
	return [][]Key{
		DefaultKeys(), {KeyMethod}, {KeyToTag},
		{KeyVia, KeyContactDomain, KeyAuthUser, KeyPIDUser, KeyExpires, KeyServer},
		all,
	}
}

// checkParseKeys: ParseKeys returns Parse's error (m and err are Parse's
// result for b) and the same value for every key it was given, for
// Call-ID, CSeq and the start line, and the same A-leg and extra headers.
func checkParseKeys(t *testing.T, p *Parser, b []byte, m *Message, err error) {
	t.Helper()
	for _, keys := range parseKeySets() {
		var km Message
		kerr := p.ParseKeys(b, &km, keys)
		if kerr != err {
			t.Fatalf("ParseKeys(%v): error %v, Parse %v", keys, kerr, err)
		}
		always := []Key{KeyMethod, KeyCSeq, KeyCallID, KeyCallIDALeg}
		for _, k := range append(always, keys...) {
			if got, want := km.Field(k), m.Field(k); !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("ParseKeys(%v): %v = %q, Parse %q", keys, k, got, want)
			}
		}
		if km.IsRequest != m.IsRequest || km.StatusCode != m.StatusCode || !bytes.Equal(km.RequestURI, m.RequestURI) ||
			km.CSeqNum != m.CSeqNum || !bytes.Equal(km.CSeqMethod, m.CSeqMethod) || !reflect.DeepEqual(km.Extra, m.Extra) {
			t.Fatalf("ParseKeys(%v) differs from Parse:\n%+v\n%+v", keys, km, *m)
		}
		if km.Body != nil || km.ContentLength != -1 || km.HeaderLen != 0 {
			t.Fatalf("ParseKeys(%v) looked for the body: %d %d %q", keys, km.HeaderLen, km.ContentLength, km.Body)
		}
	}
}
