package store

import (
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// BenchmarkBatchEncode measures the client side of a COPY per row without a
// database: Add's copy into the batch arena, then what pgx.CopyFrom does with
// each row (copySource.Values and the binary encoding of its five fields).
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
	oids := [5]uint32{pgtype.VarcharOID, pgtype.TimestamptzOID, pgtype.JSONBOID, pgtype.JSONBOID, pgtype.VarcharOID}
	m := pgtype.NewMap()
	bt := &batch{}
	src := newCopySource()
	buf := make([]byte, 0, 1<<20)
	b.ReportAllocs()
	encoded := 0
	for i := 0; b.Loop(); i++ {
		r := &rows[i%len(rows)]
		bt.mark(int64(i / 64))
		bt.add(r)
		if len(bt.rows) < n {
			continue
		}
		buf = buf[:0]
		src.reset(bt, bt.all())
		for src.Next() {
			vals, _ := src.Values()
			for j, v := range vals {
				var err error
				if buf, err = m.Encode(oids[j], pgtype.BinaryFormatCode, v, buf); err != nil {
					b.Fatal(err)
				}
			}
			encoded++
		}
		bt.reset()
	}
	if encoded == 0 {
		b.Skip("too few rows for one batch")
	}
}
