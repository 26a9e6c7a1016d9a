package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/store/pgtest"
)

// TestEndToEnd: hepgen traffic over TCP and over UDP plus real Kamailio and
// sngrep frames; after SIGTERM every message is a row, table by table, and
// the Kamailio INVITE is stored with exactly Homer's headers.
func TestEndToEnd(t *testing.T) {
	dsn := pgtest.DSN(t)
	hepd, hepgen := buildBin(t, "./cmd/hepd"), buildBin(t, "./cmd/hepgen")
	// A receive buffer that holds the whole UDP run: loss at the socket is
	// not what this test is about.
	h := startHepd(t, hepd, map[string]string{"HEPD_DB_DSN": dsn, "HEPD_UDP_RCVBUF": udpBuffer(t)})

	tcp := runHepgen(t, hepgen, "-transport", "tcp", "-calls", "1500", "-registers", "200",
		"-options", "200", "-conns", "10", "-rate", "0", h.hep.String())
	udp := runHepgen(t, hepgen, "-transport", "udp", "-calls", "300", "-registers", "50",
		"-options", "50", "-conns", "2", "-rate", "4000", h.hep.String())
	kamTCP := readFrames(t, "kamailio-hep3-frames")
	kamUDP := readFrames(t, "kamailio-hep3-udp-datagrams")
	sngrep := readFrames(t, "sngrep-hep3-udp-datagrams")
	send(t, "tcp", h.hep, kamTCP)
	send(t, "udp", h.hep, kamUDP)
	send(t, "udp", h.hep, sngrep)

	if code := h.stop(t); code != 0 {
		t.Fatalf("hepd exit code %d after SIGTERM", code)
	}
	conn := connect(t, dsn)
	got := tableCounts(t, conn)
	want := map[string]int64{}
	for _, s := range []genSummary{tcp, udp} {
		for tbl, n := range s.Tables {
			want[tbl] += n
		}
	}
	want["hep_proto_1_call"] += int64(len(kamTCP) + len(kamUDP) + len(sngrep))
	for _, tbl := range homerTables {
		if got[tbl] != want[tbl] {
			t.Errorf("rows: %s\nwant: %s", fmtCounts(got), fmtCounts(want))
			break
		}
	}
	final := h.finalCounts(t)
	var total int64
	for _, n := range got {
		total += n
	}
	if final["rows_committed"] != total || final["records"] != total {
		t.Errorf("hepd reports records=%d rows_committed=%d, database holds %d", final["records"], final["rows_committed"], total)
	}

	// The first Kamailio siptrace frame (testdata/README.md) as Homer 7 stores it.
	var ph, dh, raw string
	err := conn.QueryRow(context.Background(), `
		SELECT protocol_header::text, data_header::text, raw FROM hep_proto_1_call
		WHERE sid = '1-28115@127.0.0.1' AND protocol_header->>'srcPort' = '45779'
		  AND data_header->>'method' = 'INVITE'
		  AND protocol_header = $1::jsonb AND data_header = $2::jsonb`,
		`{"protocolFamily":2,"protocol":6,"srcIp":"127.0.0.1","dstIp":"127.0.0.1","srcPort":45779,"dstPort":5060,
		  "timeSeconds":1795960845,"timeUseconds":83640,"payloadType":1,"captureId":"2001",
		  "correlation_id":"1-28115@127.0.0.1"}`,
		`{"ruri_user":"service","ruri_domain":"127.0.0.1","from_user":"sipp","from_tag":"28115SIPpTag001",
		  "to_user":"service","to_tag":"","callid":"1-28115@127.0.0.1","cseq":"1 INVITE","method":"INVITE","user_agent":""}`,
	).Scan(&ph, &dh, &raw)
	if err != nil {
		var all []string
		rows, _ := conn.Query(context.Background(), `SELECT protocol_header::text || ' ' || data_header::text FROM hep_proto_1_call WHERE sid = '1-28115@127.0.0.1' LIMIT 3`)
		for rows.Next() {
			var s string
			rows.Scan(&s)
			all = append(all, s)
		}
		t.Fatalf("Kamailio INVITE not stored with Homer's exact headers (%v); stored:\n%s", err, strings.Join(all, "\n"))
	}
	if !strings.HasPrefix(raw, "INVITE sip:service@127.0.0.1:5060 SIP/2.0\r\n") || len(raw) != 509 {
		t.Errorf("raw = %d bytes %q…", len(raw), raw[:min(len(raw), 60)])
	}
	var create time.Time
	conn.QueryRow(context.Background(), `SELECT create_date FROM hep_proto_1_call WHERE sid='1-28115@127.0.0.1' AND protocol_header->>'srcPort'='45779' AND data_header->>'method'='INVITE'`).Scan(&create)
	if want := time.Unix(1795960845, 83640_000); !create.Equal(want) {
		t.Errorf("create_date = %v, want the capture time %v", create, want.UTC())
	}
	// sngrep puts capture id 2002 in the top half of the 4-byte chunk.
	var sngrepIDs int64
	conn.QueryRow(context.Background(), `SELECT count(*) FROM hep_proto_1_call WHERE sid='1-29007@127.0.0.1' AND protocol_header->>'captureId'='2002'`).Scan(&sngrepIDs)
	if sngrepIDs != int64(len(sngrep)) {
		t.Errorf("%d sngrep rows with captureId 2002, want %d", sngrepIDs, len(sngrep))
	}

	t.Run("README queries work as written", func(t *testing.T) {
		readme, err := os.ReadFile("../../README.md")
		if err != nil {
			t.Fatal(err)
		}
		blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(readme), -1)
		if len(blocks) < 3 {
			t.Fatalf("README has %d sql blocks, want the query examples", len(blocks))
		}
		for _, b := range blocks {
			rows, err := conn.Query(context.Background(), b[1])
			if err != nil {
				t.Errorf("README query failed: %v\n%s", err, b[1])
				continue
			}
			n := 0
			for rows.Next() {
				n++
			}
			if rows.Err() != nil || n == 0 {
				t.Errorf("README query returned %d rows (err %v):\n%s", n, rows.Err(), b[1])
			}
		}
	})
}

// TestBadFramesCloseOnlyTheirConnection: garbage on one TCP connection
// closes that connection; a well-behaved connection keeps being stored.
func TestBadFramesCloseOnlyTheirConnection(t *testing.T) {
	dsn := pgtest.DSN(t)
	h := startHepd(t, buildBin(t, "./cmd/hepd"), map[string]string{"HEPD_DB_DSN": dsn, "HEPD_TCP_RD_BUF_SIZE": "16384"})
	frames := readFrames(t, "kamailio-hep3-frames")

	good, err := net.Dial("tcp", h.hep.String())
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	for _, bad := range [][]byte{
		[]byte("GARBAGE-NOT-HEP\r\n\r\n"),
		{'H', 'E', 'P', '3', 0x00, 0x03},       // length below the 6-byte header
		{'H', 'E', 'P', '3', 0x40, 0x01, 0, 0}, // 16385 bytes: longer than tcp_rd_buf_size=16384 allows
	} {
		for _, f := range frames[:6] {
			good.Write(f)
		}
		c, err := net.Dial("tcp", h.hep.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(frames[0])
		c.Write(bad)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection sending %q not closed by hepd (read: %v)", bad, err)
		}
		c.Close()
		for _, f := range frames[6:] {
			good.Write(f)
		}
	}
	// Each bad frame is counted by its reason, visible in /metrics.
	for _, want := range []string{
		// Not HEP3 at a message boundary: read as SIP, which has no Content-Length.
		"hepd_tcp_frame_errors_no_content_length 1",
		"hepd_tcp_frame_errors_bad_hep3_length 1", "hepd_tcp_frame_errors_too_large 1",
		"hepd_tcp_closed_by_error 3",
	} {
		metric, _, _ := strings.Cut(want, " ")
		waitMetricLine(t, h, metric, want)
	}
	// A connection closed by the peer while hepd drains must still be read
	// to its end: close the good one before stopping.
	good.Close()
	time.Sleep(100 * time.Millisecond) // let the FIN arrive before SIGTERM (reads are what we test, not the race)
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	var n int64
	connect(t, dsn).QueryRow(context.Background(), "SELECT count(*) FROM hep_proto_1_call").Scan(&n)
	// 3 rounds × 13 frames on the good connection + 3 valid first frames on the bad ones.
	if want := int64(3*len(frames) + 3); n != want {
		t.Fatalf("stored %d rows, want %d", n, want)
	}
	if !strings.Contains(h.log.String(), "127.0.0.1") {
		t.Errorf("no log line names the offending peer:\n%s", h.log.String())
	}
}

// TestShutdownUnderLoad: SIGTERM while hepgen is sending at full speed;
// hepd exits 0 and every frame it accepted is a row.
func TestShutdownUnderLoad(t *testing.T) {
	dsn := pgtest.DSN(t)
	hepd, hepgen := buildBin(t, "./cmd/hepd"), buildBin(t, "./cmd/hepgen")
	h := startHepd(t, hepd, map[string]string{"HEPD_DB_DSN": dsn})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gen := command(ctx, hepgen, "-transport", "tcp", "-calls", "200000", "-conns", "8", "-rate", "0", h.hep.String())
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	defer gen.Process.Kill()
	waitRows(t, h, 5000)
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM under load", code)
	}
	gen.Wait() // hepgen sees its connections closed; that is expected

	final := h.finalCounts(t)
	var total int64
	for _, n := range tableCounts(t, connect(t, dsn)) {
		total += n
	}
	if final["tcp_frames"] == 0 || final["tcp_frames"] != final["records"] || final["records"] != total {
		t.Fatalf("tcp_frames=%d records=%d, database holds %d: something accepted was lost",
			final["tcp_frames"], final["records"], total)
	}
	t.Logf("stopped under load after %d frames; all %d stored", final["tcp_frames"], total)
}

// waitRows polls the admin API until the store has committed n rows.
func waitRows(t *testing.T, h *hepdProc, n uint64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := httpGet("http://" + h.admin + "/api/v1/stats")
		if err == nil {
			var s struct {
				Store struct{ RowsCommitted uint64 }
			}
			if json.Unmarshal(resp, &s) == nil && s.Store.RowsCommitted >= n {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("fewer than %d rows committed within a minute:\n%s", n, h.log.String())
}

// TestOwnPostgres: with no DSN, hepd starts its own cluster under data_dir,
// says where it is and how to query it, and keeps the data across restarts.
func TestOwnPostgres(t *testing.T) {
	hepd := buildBin(t, "./cmd/hepd")
	dataDir := pgtest.TempDir(t)
	port := freeHEPPort(t).Port()
	env := map[string]string{"HEPD_DATA_DIR": dataDir, "HEPD_LOCAL_DB_PORT": itoa(int(port))}
	h := startHepd(t, hepd, env)
	m := regexp.MustCompile(`dsn="?(postgres://[^"\s]+)`).FindStringSubmatch(h.log.String())
	if m == nil || !strings.Contains(h.log.String(), dataDir) {
		t.Fatalf("hepd did not log the data folder and DSN:\n%s", h.log.String())
	}
	send(t, "tcp", h.hep, readFrames(t, "kamailio-hep3-frames"))
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	h2 := startHepd(t, hepd, env)
	var n int64
	connect(t, m[1]).QueryRow(context.Background(), "SELECT count(*) FROM hep_proto_1_call").Scan(&n)
	if n != 13 {
		t.Errorf("after a restart the own cluster holds %d rows, want 13", n)
	}
	if code := h2.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

func httpGet(url string) ([]byte, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// udpBuffer is 8 MiB, or net.core.rmem_max when not root (only root may
// exceed it), for the end-to-end test's UDP socket.
func udpBuffer(t *testing.T) string {
	if os.Geteuid() == 0 {
		return "8388608"
	}
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return "0"
	}
	return strings.TrimSpace(string(b))
}
