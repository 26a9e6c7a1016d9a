package store

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkBatchEncode measures the client side of a COPY per row without a
// database: Add's copy into the batch arena (which is the encoding), then
// reading the COPY stream out of it.
func BenchmarkBatchEncode(b *testing.B) {
	const n = 2000
	now := time.Now()
	rows := make([]Row, 64)
	for i := range rows {
		callid := "a84b4c76e66710-" + strconv.Itoa(i) + "@192.0.2.10"
		rows[i] = Row{
			Table: "hep_proto_1_call", SID: []byte(callid), CreateDate: now,
			ProtocolHeader: []byte(`{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.10","dstIp":"192.0.2.20","srcPort":5060,"dstPort":5060,"timeSeconds":1700000000,"timeUseconds":1,"payloadType":1,"captureId":"2001","correlation_id":"` + callid + `"}`),
			DataHeader:     []byte(`{"ruri_user":"bob","ruri_domain":"example.com","from_user":"alice","from_tag":"1928301774","to_user":"bob","to_tag":"","callid":"` + callid + `","cseq":"314159 INVITE","method":"INVITE","user_agent":"TestUA/1.0"}`),
			Raw:            []byte("INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds\r\nMax-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\nFrom: Alice <sip:alice@example.com>;tag=1928301774\r\nCall-ID: " + callid + "\r\nCSeq: 314159 INVITE\r\nContact: <sip:alice@192.0.2.10>\r\nContent-Length: 0\r\n\r\n"),
		}
	}
	bt := &batch{}
	var src copyReader
	buf := make([]byte, 64<<10)
	b.ReportAllocs()
	encoded := 0
	for i := 0; b.Loop(); i++ {
		r := &rows[i%len(rows)]
		bt.mark(int64(i / 64))
		bt.add(r)
		if len(bt.rows) < n {
			continue
		}
		// What pgconn.CopyFrom does with the stream: read it in 64 KiB
		// pieces.
		src.reset(bt, bt.all())
		for {
			if _, err := src.Read(buf); err != nil {
				break
			}
		}
		encoded += len(bt.rows)
		bt.reset()
	}
	if encoded == 0 {
		b.Skip("too few rows for one batch")
	}
}
