package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hepd/hepd/store/pgtest"
)

// procUDPDrops reads the drops column of /proc/net/udp for the IPv4 socket
// bound to addr: the kernel's own figure, as an operator would read it.
func procUDPDrops(t *testing.T, addr netip.AddrPort) uint64 {
	t.Helper()
	f, err := os.Open("/proc/net/udp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	a := addr.Addr().As4()
	// /proc writes the address as the host-order hex of the network-order
	// word: 127.0.0.1 is 0100007F on little-endian machines.
	le := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], addr.Port())
	be := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[0], a[1], a[2], a[3], addr.Port())
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 13 && (fs[1] == le || fs[1] == be) {
			n, err := strconv.ParseUint(fs[12], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no UDP socket bound to %v in /proc/net/udp", addr)
	return 0
}

type statsUDP struct {
	UDP struct {
		Datagrams              uint64
		SocketDrops            map[string]*uint64
		SocketDropsUnavailable map[string]string
	}
	Ingest struct{ Received, RawSIP uint64 }
}

// TestUDPSocketDropsEndToEnd: hepd with udp_rcvbuf=4096 is stopped
// (SIGSTOP) while a burst arrives on hep_listen, so the kernel drops at the
// socket. hepd's udp SocketDrops for that socket, in /api/v1/stats,
// /metrics and `hepd ctl stats`, is the kernel's /proc/net/udp figure; the
// sip_listen socket, which got nothing, reports 0; what was read plus what
// was dropped is what was sent, and what was read is stored.
func TestUDPSocketDropsEndToEnd(t *testing.T) {
	dsn := pgtest.DSN(t)
	bin := buildBin(t, "./cmd/hepd")
	h := startHepd(t, bin, map[string]string{"HEPD_DB_DSN": dsn, "HEPD_UDP_RCVBUF": "4096"})

	const sent = 3000
	msg := rawOptions("drops-probe")
	c, err := net.Dial("udp", h.hep.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pid := h.cmd.Process.Pid
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	for range sent {
		if _, err := c.Write(msg); err != nil {
			syscall.Kill(pid, syscall.SIGCONT)
			t.Fatal(err)
		}
	}
	kernel := procUDPDrops(t, h.hep)
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if kernel == 0 {
		t.Fatalf("the kernel dropped nothing of %d datagrams into a 4 KiB buffer", sent)
	}

	// Wait until hepd has read what the socket held.
	var st statsUDP
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := httpGet("http://" + h.admin + "/api/v1/stats")
		if err == nil && json.Unmarshal(b, &st) == nil && st.UDP.Datagrams+kernel == sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d + kernel drops %d != sent %d", st.UDP.Datagrams, kernel, sent)
		}
		time.Sleep(20 * time.Millisecond)
	}
	drops := st.UDP.SocketDrops[h.hep.String()]
	if drops == nil || *drops != kernel {
		t.Fatalf("SocketDrops[%s] = %v, /proc/net/udp says %d (unavailable: %v)", h.hep, drops, kernel, st.UDP.SocketDropsUnavailable)
	}
	if quiet := st.UDP.SocketDrops[h.sip.String()]; quiet == nil || *quiet != 0 {
		t.Fatalf("SocketDrops[%s] (no traffic) = %v, want 0", h.sip, quiet)
	}
	metrics, err := httpGet("http://" + h.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`hepd_udp_socket_drops{key="%s"} %d`, h.hep, kernel),
		fmt.Sprintf(`hepd_udp_socket_drops{key="%s"} 0`, h.sip),
	} {
		if !strings.Contains(string(metrics), want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	ctl, err := command(context.Background(), bin, "ctl", "-addr", h.admin, "stats").Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"%s": %d`, h.hep, kernel); !strings.Contains(string(ctl), `"SocketDrops"`) || !strings.Contains(string(ctl), want) {
		t.Errorf("hepd ctl stats lacks %s:\n%s", want, ctl)
	}

	if code := h.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	final := h.finalCounts(t)
	if final["udp_socket_drops"] != int64(kernel) || final["udp_datagrams"] != int64(sent-kernel) {
		t.Errorf("final line: udp_datagrams=%d udp_socket_drops=%d; want %d and %d", final["udp_datagrams"], final["udp_socket_drops"], sent-kernel, kernel)
	}
	if got := tableCounts(t, connect(t, dsn)); got["hep_proto_1_default"] != int64(sent-kernel) {
		t.Errorf("rows: %s; want every datagram read (%d) in hep_proto_1_default", fmtCounts(got), sent-kernel)
	}
	t.Logf("sent %d, read %d, kernel dropped %d", sent, sent-kernel, kernel)
}
