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

// BenchmarkParseKeys parses the same INVITE for Homer's default
// data_header keys only, as the ingest pipeline does.
func BenchmarkParseKeys(b *testing.B) {
	_, payloads := framePayloads(b)
	p, payload, keys := mustParser(b, Options{}), payloads[0], DefaultKeys()
	var m Message
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		if err := p.ParseKeys(payload, &m, keys); err != nil {
			b.Fatal(err)
		}
	}
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
