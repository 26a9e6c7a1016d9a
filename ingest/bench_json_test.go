package ingest

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/hepd/hepd/hep"
)

// BenchmarkHeaderJSON measures building the two JSON headers of a typical
// SIP row (the Kamailio INVITE) alone: captureId, protocol_header and
// data_header from an already decoded packet and parsed message.
func BenchmarkHeaderJSON(b *testing.B) {
	p, err := New(context.Background(), Options{}, discard{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	frame := kamailioFrames(b)[0]
	var pkt hep.Packet
	if err := hep.Decode(frame.Data, &pkt); err != nil {
		b.Fatal(err)
	}
	bt := p.get()
	if err := p.parser.ParseKeySet(pkt.Payload, &bt.msg, p.keySet); err != nil {
		b.Fatal(err)
	}
	created, _ := hep.CaptureTime(&pkt, frame.RecvTime)
	arena := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		arena = captureID(arena[:0], &pkt)
		capID := arena[:]
		arena = appendProtocolHeader(arena, &bt.text, &pkt, created, capID, bt.msg.CallID)
		arena = p.appendDataHeader(arena, &bt.msg)
	}
	b.SetBytes(int64(len(arena)))
}
