package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/store/pgtest"
)

// requirePeer finds a real third-party peer program. CI installs them all
// and sets HEPD_REQUIRE_PEERS, so there a missing one fails the test; on a
// developer machine without it the test is skipped.
func requirePeer(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("HEPD_REQUIRE_PEERS") != "" {
		t.Fatalf("%s not found: install Debian package %s", name, pkg)
	}
	t.Skipf("%s not installed (Debian package %s)", name, pkg)
	return ""
}

// sippSent parses SIPp's -trace_msg file into the messages it sent, byte
// for byte.
func sippSent(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`(?m)^TCP message sent \((\d+) bytes\):\n\n`)
	var out []string
	for _, m := range head.FindAllSubmatchIndex(b, -1) {
		n, _ := strconv.Atoi(string(b[m[2]:m[3]]))
		out = append(out, string(b[m[1]:m[1]+n]))
	}
	return out
}

// TestSIPpOverTCP: SIPp sends whole calls as raw SIP over one TCP connection
// to hepd's SIP port; every message SIPp reports sending is a row, and one
// call's rows equal its messages field for field.
func TestSIPpOverTCP(t *testing.T) {
	sipp := requirePeer(t, "sipp", "sip-tester")
	dsn := pgtest.DSN(t)
	h := startHepd(t, buildBin(t, "./cmd/hepd"), map[string]string{"HEPD_DB_DSN": dsn})

	const calls = 20
	msgLog := filepath.Join(t.TempDir(), "messages.log")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	scenario, _ := filepath.Abs("../../testdata/sipp/send-only-call.xml")
	cmd := exec.CommandContext(ctx, sipp, "-sf", scenario,
		"-t", "t1", "-m", strconv.Itoa(calls), "-r", "50", "-nostdin", "-timeout", "60s",
		"-trace_msg", "-message_file", msgLog, h.sip.String())
	cmd.Dir = t.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	sent := sippSent(t, msgLog)
	if len(sent) != calls*9 {
		t.Fatalf("SIPp reports %d messages sent, the scenario has %d", len(sent), calls*9)
	}
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	conn := connect(t, dsn)
	got := tableCounts(t, conn)
	if got["hep_proto_1_call"] != calls*7 || got["hep_proto_1_default"] != calls*2 {
		t.Fatalf("rows %s; want %d call and %d default", fmtCounts(got), calls*7, calls*2)
	}

	// One call, field for field: SIPp's first call.
	callID := regexp.MustCompile(`(?m)^Call-ID: (\S+)\r$`).FindStringSubmatch(sent[0])[1]
	const cols = `raw, data_header->>'method', data_header->>'cseq', data_header->>'from_user',
		data_header->>'to_user', sid, data_header->>'callid', protocol_header->>'srcIp', protocol_header->>'dstIp',
		(protocol_header->>'dstPort')::int, (protocol_header->>'protocol')::int, protocol_header->>'captureId'`
	rows, err := conn.Query(context.Background(),
		`SELECT `+cols+` FROM hep_proto_1_call WHERE sid = $1 UNION ALL SELECT `+cols+` FROM hep_proto_1_default WHERE sid = $1`, callID)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for rows.Next() {
		var raw, method, cseq, from, to, sid, cid, src, dst, capID string
		var dport, proto int
		if err := rows.Scan(&raw, &method, &cseq, &from, &to, &sid, &cid, &src, &dst, &dport, &proto, &capID); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, raw)
		first := strings.SplitN(raw, " ", 3)
		wantMethod := first[0]
		if wantMethod == "SIP/2.0" {
			wantMethod = first[1]
		}
		cseqWant := regexp.MustCompile(`(?m)^CSeq: (.+)\r$`).FindStringSubmatch(raw)[1]
		if method != wantMethod || cid != callID || sid != callID || cseq != cseqWant || from != "sipp" || to != "service" ||
			src != "127.0.0.1" || dst != h.sip.Addr().String() || dport != int(h.sip.Port()) || proto != 6 || capID != "hepd" {
			t.Errorf("row %q: method %s callid %s cseq %s from %s to %s src %s dst %s:%d proto %d captureId %s",
				first[0]+" "+first[1], method, cid, cseq, from, to, src, dst, dport, proto, capID)
		}
	}
	var want []string
	for _, m := range sent {
		if strings.Contains(m, "\r\nCall-ID: "+callID+"\r\n") || strings.Contains(m, "\r\ni: "+callID+"\r\n") {
			want = append(want, m)
		}
	}
	if len(stored) != 9 || len(want) != 9 {
		t.Fatalf("call %s: %d rows stored, %d messages sent; want 9", callID, len(stored), len(want))
	}
	// Rows of one call sit in two tables with their own ids and share their
	// receive time, so compare as sets.
	slices.Sort(stored)
	slices.Sort(want)
	for i := range want {
		if stored[i] != want[i] {
			t.Errorf("message %d differs:\nsent   %q\nstored %q", i, want[i], stored[i])
		}
	}
}
