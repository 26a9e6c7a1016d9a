package sip

import "testing"

func TestParseDoesNotAllocate(t *testing.T) {
	p := mustParser(t, fuzzOptions())
	// Every seed (successes and each error path) and every error-table row.
	payloads := seedPayloads(t)
	for _, s := range []string{"", "short", crlf("SIP/2.0 20 OK", cid, cseq, "X-Pad: 0123456789"), crlf(inv, cseq, "X-Pad: 0123456789")} {
		payloads = append(payloads, []byte(s))
	}
	var m Message
	for i, b := range payloads {
		if n := testing.AllocsPerRun(20, func() { _ = p.Parse(b, &m) }); n != 0 {
			t.Errorf("payload %d (%.40q): %v allocations per Parse", i, b, n)
		}
		keys := DefaultKeys()
		if n := testing.AllocsPerRun(20, func() { _ = p.ParseKeys(b, &m, keys) }); n != 0 {
			t.Errorf("payload %d (%.40q): %v allocations per ParseKeys", i, b, n)
		}
	}
	for k := Key(1); k < numKeys; k++ {
		if n := testing.AllocsPerRun(20, func() { _ = m.Field(k); _ = k.String() }); n != 0 {
			t.Errorf("%v: %v allocations in Field/String", k, n)
		}
	}
	if n := testing.AllocsPerRun(20, func() { _ = Profile(m.CSeqMethod) }); n != 0 {
		t.Errorf("Profile: %v allocations", n)
	}
}
