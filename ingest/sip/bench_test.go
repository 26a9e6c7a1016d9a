package sip

import "testing"

// BenchmarkParse parses a typical INVITE with SDP: Kamailio frame 01.
func BenchmarkParse(b *testing.B) {
	_, payloads := framePayloads(b)
	benchParse(b, mustParser(b, Options{}), payloads[0])
}

// BenchmarkParseWithOptions adds four extra and two A-leg headers, which
// are matched against every header line.
func BenchmarkParseWithOptions(b *testing.B) {
	_, payloads := framePayloads(b)
	benchParse(b, mustParser(b, fuzzOptions()), payloads[0])
}

func benchParse(b *testing.B, p *Parser, payload []byte) {
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := p.Parse(payload, &m); err != nil {
			b.Fatal(err)
		}
	}
}
