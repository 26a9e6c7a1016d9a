package main

import (
	"bytes"
	"context"
	"encoding/binary"
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

// withAuthKey returns a copy of a HEP3 packet with an auth-key chunk
// (0x000e) appended and the total length fixed; chunk order is free.
func withAuthKey(frame []byte, key string) []byte {
	out := append([]byte(nil), frame...)
	out = append(out, 0, 0, 0, 0x0e, 0, 0)
	binary.BigEndian.PutUint16(out[len(out)-2:], uint16(6+len(key)))
	out = append(out, key...)
	binary.BigEndian.PutUint16(out[4:], uint16(len(out)))
	return out
}

func keyAll(frames [][]byte, key string) [][]byte {
	var out [][]byte
	for _, f := range frames {
		out = append(out, withAuthKey(f, key))
	}
	return out
}

// rawOptions is a raw SIP OPTIONS (stored in hep_proto_1_default).
func rawOptions(callID string) []byte {
	return []byte("OPTIONS sip:hepd@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-" + callID +
		"\r\nFrom: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:hepd@127.0.0.1>\r\nCall-ID: " + callID +
		"\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")
}

// expectClosed waits for hepd to close c (EOF or reset), failing on timeout.
func expectClosed(t *testing.T, c net.Conn, what string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: connection not closed by hepd", what)
	}
}

// waitMetric polls /metrics until metric{key="label"} equals want.
func waitMetric(t *testing.T, h *hepdProc, metric, label string, want string) {
	t.Helper()
	waitMetricLine(t, h, metric, metric+`{key="`+label+`"} `+want)
}

// waitMetricLine polls /metrics until it has line, a sample of metric. The
// TCP workers publish their counters once per poll round, so a peer can see
// its connection closed a moment before the count of it shows.
func waitMetricLine(t *testing.T, h *hepdProc, metric, line string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last []byte
	for time.Now().Before(deadline) {
		var err error
		if last, err = httpGet("http://" + h.admin + "/metrics"); err == nil && bytes.Contains(last, []byte(line+"\n")) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(metric)+`.*$`).FindAllString(string(last), -1)
	t.Fatalf("/metrics never showed %q; it has %q", line, got)
}

// TestHEPAuthKeyEndToEnd: three listeners, over UDP and TCP: hepA requires
// hep_auth_key, hepB has it turned off (hep_auth_keys "hepB="), sipC is a
// SIP capture address with its own key. Exactly the packets with the
// listener's key (and raw SIP on sipC and hepB) become rows; the rest are
// counted per listener in /metrics; a TCP connection sending a bad key is
// closed (tcp_script_mode=0); checked keys are not stored.
func TestHEPAuthKeyEndToEnd(t *testing.T) {
	dsn := pgtest.DSN(t)
	hepA, hepB, sipC := freeHEPPort(t), freeHEPPort(t), freeHEPPort(t)
	h := startHepd(t, buildBin(t, "./cmd/hepd"), map[string]string{
		"HEPD_DB_DSN":        dsn,
		"HEPD_UDP_RCVBUF":    udpBuffer(t),
		"HEPD_HEP_LISTEN":    hepA.String() + "," + hepB.String(),
		"HEPD_SIP_LISTEN":    sipC.String(),
		"HEPD_HEP_AUTH_KEY":  "hep-secret",
		"HEPD_HEP_AUTH_KEYS": hepB.String() + "=," + sipC.String() + "=sip-secret",
	})
	if !strings.Contains(h.log.String(), "hep_auth_key_on="+hepA.String()+","+sipC.String()) ||
		strings.Contains(h.log.String(), "hep-secret") || strings.Contains(h.log.String(), "sip-secret") {
		t.Fatalf("start-up log does not name exactly the keyed addresses, or shows a key:\n%s", h.log.String())
	}
	call := readFrames(t, "kamailio-hep3-frames") // 13 frames of one call → hep_proto_1_call
	n := int64(len(call))
	good, sipGood := keyAll(call, "hep-secret"), keyAll(call, "sip-secret")

	// UDP.
	send(t, "udp", hepA, good)                                                                 // stored
	send(t, "udp", hepA, call)                                                                 // no key: refused
	send(t, "udp", hepA, sipGood)                                                              // another listener's key: refused
	send(t, "udp", hepA, [][]byte{rawOptions("u-a1"), rawOptions("u-a2"), rawOptions("u-a3")}) // refused
	send(t, "udp", hepB, keyAll(call, "agent-pw"))                                             // no check: stored, with capturePass
	send(t, "udp", hepB, [][]byte{rawOptions("u-b1")})                                         // stored
	send(t, "udp", sipC, sipGood)                                                              // stored
	send(t, "udp", sipC, good)                                                                 // hepA's key: refused
	send(t, "udp", sipC, [][]byte{rawOptions("u-c1"), rawOptions("u-c2"), rawOptions("u-c3")}) // stored

	// TCP: a connection with the right key stays open.
	keep, err := net.Dial("tcp", hepA.String())
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	for _, f := range good {
		keep.Write(f)
	}
	// One good frame then a wrong key, in one write: the good one is
	// stored, the connection closed.
	for _, tc := range []struct {
		what string
		data [][]byte
	}{
		{"good frame, then a wrong key", [][]byte{good[0], withAuthKey(call[1], "guess")}},
		{"no key", [][]byte{call[0]}},
		{"raw SIP on a keyed HEP listener", [][]byte{rawOptions("t-a1")}},
	} {
		c, err := net.Dial("tcp", hepA.String())
		if err != nil {
			t.Fatal(err)
		}
		c.Write(bytes.Join(tc.data, nil))
		expectClosed(t, c, tc.what)
		c.Close()
	}
	send(t, "tcp", hepB, keyAll(call, "agent-pw"))
	send(t, "tcp", sipC, append(append([][]byte{}, sipGood...), rawOptions("t-c1")))

	// Refusals, per listener: hepA 13+13+3 over UDP and 3 over TCP; sipC 13.
	waitMetric(t, h, "hepd_ingest_auth_rejected", hepA.String(), "32")
	waitMetric(t, h, "hepd_ingest_auth_rejected", sipC.String(), "13")
	// The kept connection is still open: hepd has not closed it.
	for _, f := range good[:1] {
		if _, err := keep.Write(f); err != nil {
			t.Fatalf("connection with the right key closed: %v", err)
		}
	}
	metrics, _ := httpGet("http://" + h.admin + "/metrics")
	if bytes.Contains(metrics, []byte(`hepd_ingest_auth_rejected{key="`+hepB.String()+`"}`)) {
		t.Errorf("/metrics lists a refusal counter for %s, which checks no key", hepB)
	}
	cfg, _ := httpGet("http://" + h.admin + "/api/v1/cfg")
	if bytes.Contains(cfg, []byte("secret")) {
		t.Errorf("/api/v1/cfg shows an auth key:\n%s", cfg)
	}
	keep.Close()
	time.Sleep(100 * time.Millisecond) // let the FIN arrive before SIGTERM
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	conn := connect(t, dsn)
	got := tableCounts(t, conn)
	// Calls: UDP hepA, hepB, sipC (3×13); TCP hepA 13+1 on the kept connection
	// and 1 before the bad key, hepB 13, sipC 13.
	wantCall := 3*n + (n + 1) + 1 + n + n
	wantDefault := int64(1 + 3 + 1) // raw SIP: UDP hepB, UDP sipC, TCP sipC
	if got["hep_proto_1_call"] != wantCall || got["hep_proto_1_default"] != wantDefault {
		t.Fatalf("rows: %s; want hep_proto_1_call=%d hep_proto_1_default=%d", fmtCounts(got), wantCall, wantDefault)
	}
	var withPass, secrets int64
	conn.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE protocol_header->>'capturePass' = 'agent-pw'),
		count(*) FILTER (WHERE protocol_header::text LIKE '%secret%') FROM hep_proto_1_call`).Scan(&withPass, &secrets)
	if withPass != 2*n || secrets != 0 {
		t.Errorf("%d rows keep the unchecked key (want %d), %d rows hold a checked key (want 0)", withPass, 2*n, secrets)
	}
	if !strings.Contains(h.log.String(), "HEP packet refused") || !strings.Contains(h.log.String(), "raw SIP refused") {
		t.Errorf("refusals not logged:\n%s", h.log.String())
	}
}

// TestHEPAuthKeyScriptMode1: with tcp_script_mode=1 a frame with a wrong
// key is refused and counted, but its connection stays open and later
// frames with the right key are stored.
func TestHEPAuthKeyScriptMode1(t *testing.T) {
	dsn := pgtest.DSN(t)
	h := startHepd(t, buildBin(t, "./cmd/hepd"), map[string]string{
		"HEPD_DB_DSN": dsn, "HEPD_HEP_AUTH_KEY": "hep-secret", "HEPD_TCP_SCRIPT_MODE": "1",
	})
	call := readFrames(t, "kamailio-hep3-frames")
	c, err := net.Dial("tcp", h.hep.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(withAuthKey(call[0], "guess"))
	waitMetric(t, h, "hepd_ingest_auth_rejected", h.hep.String(), "1")
	for _, f := range keyAll(call, "hep-secret") {
		if _, err := c.Write(f); err != nil {
			t.Fatalf("connection closed after a refused frame with tcp_script_mode=1: %v", err)
		}
	}
	waitRows(t, h, uint64(len(call)))
	c.Close()
	time.Sleep(100 * time.Millisecond)
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if got := tableCounts(t, connect(t, dsn)); got["hep_proto_1_call"] != int64(len(call)) {
		t.Fatalf("rows: %s; want hep_proto_1_call=%d", fmtCounts(got), len(call))
	}
}
