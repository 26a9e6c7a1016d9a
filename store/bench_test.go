package store_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hepd/hepd/store"
	"github.com/hepd/hepd/store/pgtest"
)

// benchRows builds n realistic SIP rows: ~500-byte INVITEs and Homer's JSON
// headers, spread over the three SIP tables.
func benchRows(n int, at time.Time) []store.Row {
	tbls := []string{"hep_proto_1_call", "hep_proto_1_call", "hep_proto_1_registration", "hep_proto_1_default"}
	rows := make([]store.Row, n)
	for i := range rows {
		callid := "a84b4c76e66710-" + strconv.Itoa(i) + "@192.0.2.10"
		raw := "INVITE sip:bob@example.com SIP/2.0\r\n" +
			"Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds" + strconv.Itoa(i) + "\r\n" +
			"Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\n" +
			"From: Alice <sip:alice@example.com>;tag=1928301774\r\n" +
			"Call-ID: " + callid + "\r\nCSeq: 314159 INVITE\r\n" +
			"Contact: <sip:alice@192.0.2.10>\r\nUser-Agent: TestUA/1.0\r\n" +
			"Content-Type: application/sdp\r\nContent-Length: 142\r\n\r\n" +
			"v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
		ts := at.Add(time.Duration(i) * time.Microsecond)
		rows[i] = store.Row{
			Table:      tbls[i%len(tbls)],
			SID:        []byte(callid),
			CreateDate: ts,
			ProtocolHeader: []byte(`{"protocolFamily":2,"protocol":17,"srcIp":"192.0.2.10","dstIp":"192.0.2.20","srcPort":5060,"dstPort":5060,` +
				`"timeSeconds":` + strconv.FormatInt(ts.Unix(), 10) + `,"timeUseconds":` + strconv.Itoa(ts.Nanosecond()/1000) +
				`,"payloadType":1,"captureId":"2001","correlation_id":"` + callid + `"}`),
			DataHeader: []byte(`{"ruri_user":"bob","ruri_domain":"example.com","from_user":"alice","from_tag":"1928301774","to_user":"bob","to_tag":"",` +
				`"callid":"` + callid + `","cseq":"314159 INVITE","method":"INVITE","user_agent":"TestUA/1.0"}`),
			Raw: []byte(raw),
		}
	}
	return rows
}

// BenchmarkCopy measures the Add→COPY path: one op is one row, added in
// slices of 64 (as ingest hands them over) and committed before the clock
// stops.
func BenchmarkCopy(b *testing.B) {
	for _, batch := range []int{200, 500, 2000, 5000} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			ctx := context.Background()
			s, err := store.Open(ctx, store.Config{DSN: pgtest.DSN(b), BatchRows: batch, MaxPending: 8 * batch, RetentionDays: -1}, nil)
			if err != nil {
				b.Fatal(err)
			}
			rows := benchRows(4096, time.Now())
			var size int
			for _, r := range rows {
				size += len(r.SID) + len(r.ProtocolHeader) + len(r.DataHeader) + len(r.Raw)
			}
			b.SetBytes(int64(size / len(rows)))
			// Warm up: fill the batch free list and pgx's buffers, so the
			// figures are the steady state.
			for i := 0; i < 3*8*batch; i += 64 {
				if err := s.Add(ctx, rows[i%len(rows):min(i%len(rows)+64, len(rows))]); err != nil {
					b.Fatal(err)
				}
			}
			for s.Stats().RowsPending > 0 {
				time.Sleep(time.Millisecond)
			}
			warm := s.Stats().RowsCommitted
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += 64 {
				lo := i % len(rows)
				hi := min(lo+64, len(rows), lo+b.N-i)
				if err := s.Add(ctx, rows[lo:hi]); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Close(ctx); err != nil {
				b.Fatal(err)
			}
			el := time.Since(start)
			b.StopTimer()
			st := s.Stats()
			if st.RowsCommitted-warm != uint64(b.N) {
				b.Fatalf("committed %d of %d", st.RowsCommitted-warm, b.N)
			}
			b.ReportMetric(float64(b.N)/el.Seconds(), "rows/s")
			if st.Flushes > 0 {
				b.ReportMetric(float64(st.FlushLatencySum.Microseconds())/float64(st.Flushes)/1000, "ms/flush")
			}
		})
	}
}
