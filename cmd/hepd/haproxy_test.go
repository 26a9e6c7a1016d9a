package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/store/pgtest"
)

// startHAProxy runs a real HAProxy in the foreground with cfg and waits
// until every port in listen accepts.
func startHAProxy(t *testing.T, cfg string, listen ...netip.AddrPort) {
	t.Helper()
	bin := requirePeer(t, "haproxy", "haproxy")
	dir := t.TempDir()
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
	cmd := exec.Command(bin, "-db", "-f", path)
	log := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for _, a := range listen {
		for {
			c, err := net.DialTimeout("tcp", a.String(), time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("haproxy does not listen on %s:\n%s", a, log.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

const haproxyDefaults = `
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
`

// dialFrom connects to addr from a chosen loopback source, so the original
// client (127.0.0.9) and HAProxy (127.0.0.1) have different addresses.
func dialFrom(t *testing.T, src string, addr netip.AddrPort) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHAProxyPassesClientAddress: HEP3 and raw SIP through a real HAProxy
// with send-proxy (v1) and send-proxy-v2 reach hepd with the agent's
// address, not HAProxy's: in tcp list, and in the stored raw SIP rows.
func TestHAProxyPassesClientAddress(t *testing.T) {
	dsn := pgtest.DSN(t)
	bin := buildBin(t, "./cmd/hepd")
	h := startHepd(t, bin, map[string]string{"HEPD_DB_DSN": dsn, "HEPD_TCP_ACCEPT_HAPROXY": "yes"})
	fe := map[string]netip.AddrPort{}
	cfg := haproxyDefaults
	for _, f := range []struct{ name, target, proxy string }{
		{"hep_v1", h.hep.String(), "send-proxy"}, {"hep_v2", h.hep.String(), "send-proxy-v2"},
		{"sip_v1", h.sip.String(), "send-proxy"}, {"sip_v2", h.sip.String(), "send-proxy-v2"},
	} {
		fe[f.name] = freeHEPPort(t)
		cfg += fmt.Sprintf("frontend %s\n    bind %s\n    default_backend be_%s\nbackend be_%s\n    server hepd %s %s\n",
			f.name, fe[f.name], f.name, f.name, f.target, f.proxy)
	}
	startHAProxy(t, cfg, fe["hep_v1"], fe["hep_v2"], fe["sip_v1"], fe["sip_v2"])

	frames := readFrames(t, "kamailio-hep3-frames")
	var sipClients []net.Conn
	for _, name := range []string{"hep_v1", "hep_v2", "sip_v1", "sip_v2"} {
		c := dialFrom(t, "127.0.0.9", fe[name])
		if strings.HasPrefix(name, "hep") {
			for _, f := range frames {
				c.Write(f)
			}
		} else {
			c.Write([]byte(sipRequest("OPTIONS", "proxied-"+name, "127.0.0.9:5060", 0)))
			sipClients = append(sipClients, c)
		}
		// While the connection is open, hepd lists it under the agent's address.
		want := c.LocalAddr().String()
		deadline := time.Now().Add(10 * time.Second)
		for {
			list, _ := httpGet("http://" + h.admin + "/api/v1/tcp/list")
			if strings.Contains(string(list), `"remote": "`+want+`"`) && strings.Contains(string(list), `"proxy": "127.0.0.1:`) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: tcp list does not show remote %s behind the proxy:\n%s", name, want, list)
			}
			time.Sleep(20 * time.Millisecond)
		}
		c.Close()
	}
	// A direct connection without a PROXY header is refused.
	direct := dial(t, h.hep.String())
	direct.Write(frames[0])
	if !closedByPeer(direct, 10*time.Second) {
		t.Error("a connection without PROXY header was not closed")
	}
	time.Sleep(100 * time.Millisecond)
	if code := h.stop(t); code != 0 {
		t.Fatalf("exit %d", code)
	}
	conn := connect(t, dsn)
	counts := tableCounts(t, conn)
	if counts["hep_proto_1_call"] != int64(2*len(frames)) || counts["hep_proto_1_default"] != 2 {
		t.Fatalf("rows %s; want %d HEP3 call rows and 2 raw SIP rows", fmtCounts(counts), 2*len(frames))
	}
	for i, name := range []string{"sip_v1", "sip_v2"} {
		var src, dst string
		var sport, dport int
		err := conn.QueryRow(context.Background(), `SELECT protocol_header->>'srcIp', (protocol_header->>'srcPort')::int,
			protocol_header->>'dstIp', (protocol_header->>'dstPort')::int FROM hep_proto_1_default WHERE sid = $1`,
			"proxied-"+name).Scan(&src, &sport, &dst, &dport)
		client := sipClients[i].LocalAddr().(*net.TCPAddr)
		if err != nil || src != "127.0.0.9" || sport != client.Port || dport != int(fe[name].Port()) {
			t.Errorf("%s: stored %s:%d -> %s:%d (%v); want the agent 127.0.0.9:%d -> %s", name, src, sport, dst, dport, err, client.Port, fe[name])
		}
	}
}

// TestTwoNodesBehindHAProxy: two hepd nodes on one database behind one
// HAProxy; every message sent is a row, and when one node is stopped in the
// middle of a run, everything its connections delivered is still stored.
func TestTwoNodesBehindHAProxy(t *testing.T) {
	dsn := pgtest.DSN(t)
	bin, hepgen := buildBin(t, "./cmd/hepd"), buildBin(t, "./cmd/hepgen")
	env := map[string]string{"HEPD_DB_DSN": dsn, "HEPD_TCP_ACCEPT_HAPROXY": "yes"}
	a, b := startHepd(t, bin, env), startHepd(t, bin, env)
	front := freeHEPPort(t)
	cfg := haproxyDefaults + fmt.Sprintf(`
frontend hep
    bind %s
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    server a %s send-proxy-v2 check port %d inter 500ms
    server b %s send-proxy-v2 check port %d inter 500ms
`, front, a.hep, netip.MustParseAddrPort(a.admin).Port(), b.hep, netip.MustParseAddrPort(b.admin).Port())
	startHAProxy(t, cfg, front)

	sent := runHepgen(t, hepgen, "-transport", "tcp", "-calls", "1000", "-registers", "100", "-conns", "8", "-rate", "0", front.String())
	conn := connect(t, dsn)
	total := func() int64 {
		var n int64
		for _, v := range tableCounts(t, conn) {
			n += v
		}
		return n
	}
	deadline := time.Now().Add(time.Minute)
	for total() != sent.Total && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := total(); got != sent.Total {
		t.Fatalf("%d rows, hepgen sent %d through HAProxy", got, sent.Total)
	}

	// Stop node a while traffic flows through both.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	gen := command(ctx, hepgen, "-transport", "tcp", "-calls", "100000", "-conns", "8", "-rate", "20000", front.String())
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	defer gen.Process.Kill()
	for total() < sent.Total+5000 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if code := a.stop(t); code != 0 {
		t.Fatalf("node a exit %d", code)
	}
	gen.Process.Kill()
	gen.Wait()
	if code := b.stop(t); code != 0 {
		t.Fatalf("node b exit %d", code)
	}
	fa, fb := a.finalCounts(t), b.finalCounts(t)
	if fa["tcp_frames"] != fa["records"] || fa["records"] != fa["rows_committed"] || fa["tcp_frames"] <= 0 {
		t.Errorf("node a: tcp_frames=%d records=%d rows_committed=%d", fa["tcp_frames"], fa["records"], fa["rows_committed"])
	}
	if got := total(); got != fa["rows_committed"]+fb["rows_committed"] {
		t.Errorf("database holds %d rows, nodes committed %d + %d", got, fa["rows_committed"], fb["rows_committed"])
	}
}
