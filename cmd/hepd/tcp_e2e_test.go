package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/store/pgtest"
)

// ctl runs `hepd ctl` against h and returns its output and exit code.
func ctl(t *testing.T, bin string, h *hepdProc, token string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"ctl", "-addr", h.admin, "-token", token}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// sipRequest is a small SIP request with a Content-Length, padded to at
// least size bytes by its body.
func sipRequest(method, callID, via string, size int) string {
	head := method + " sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP " + via + ";branch=z9hG4bK1\r\n" +
		"From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: " + callID + "\r\n" +
		"CSeq: 1 " + method + "\r\nContent-Type: text/plain\r\n"
	body := ""
	if n := size - len(head) - 30; n > 0 {
		body = strings.Repeat("x", n)
	}
	return head + "Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body
}

// closedByPeer reports whether hepd closed c within the timeout.
func closedByPeer(c net.Conn, timeout time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(timeout))
	_, err := c.Read(make([]byte, 64))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestAdminAndCtl: runtime changes, tcp info/list with aliases, the token,
// and "needs restart", through the real command-line client.
func TestAdminAndCtl(t *testing.T) {
	bin := buildBin(t, "./cmd/hepd")
	h := startHepd(t, bin, map[string]string{
		"HEPD_DB_DSN": pgtest.DSN(t), "HEPD_ADMIN_TOKEN": "tok", "HEPD_TCP_ACCEPT_ALIASES": "yes",
	})

	if out, code := ctl(t, bin, h, "wrong", "tcp", "info"); code == 0 || !strings.Contains(out, "token required") {
		t.Errorf("wrong token: exit %d, %q", code, out)
	}
	if out, code := ctl(t, bin, h, "tok", "cfg", "get", "tcp_rd_buf_size"); code != 0 || strings.TrimSpace(out) != "65536" {
		t.Fatalf("cfg get: exit %d, %q", code, out)
	}
	if out, code := ctl(t, bin, h, "tok", "cfg", "set", "tcp.rd_buf_size", "32768"); code != 0 || !strings.Contains(out, "tcp_rd_buf_size: 65536 -> 32768") {
		t.Fatalf("cfg set: exit %d, %q", code, out)
	}
	for _, tc := range []struct{ name, value, want string }{
		{"tcp_children", "4", "needs restart"},
		{"db_writers", "4", "needs restart"},
		{"tcp_rd_buf_size", "100", "512"},
		{"tcp_no_such", "1", "unknown parameter"},
	} {
		if out, code := ctl(t, bin, h, "tok", "cfg", "set", tc.name, tc.value); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("cfg set %s %s: exit %d, %q; want an error with %q", tc.name, tc.value, code, out, tc.want)
		}
	}
	if out, _ := ctl(t, bin, h, "tok", "cfg", "get"); !strings.Contains(out, "tcp_rd_buf_size") || !strings.Contains(out, "32768") {
		t.Errorf("cfg get (all):\n%s", out)
	}

	// The runtime rd_buf_size holds for a connection made after the change.
	big := dial(t, h.sip.String())
	big.Write([]byte(sipRequest("MESSAGE", "big-1", "127.0.0.1:5070", 40000)))
	if !closedByPeer(big, 10*time.Second) {
		t.Error("a 40000-byte message after tcp_rd_buf_size=32768 did not close its connection")
	}

	// A request whose top Via has ;alias gives its connection an alias.
	c := dial(t, h.sip.String())
	c.Write([]byte(sipRequest("OPTIONS", "alias-1", "127.0.0.1:5099;alias", 0)))
	deadline := time.Now().Add(10 * time.Second)
	var list string
	for time.Now().Before(deadline) {
		list, _ = ctl(t, bin, h, "tok", "tcp", "list")
		if strings.Contains(list, "127.0.0.1:5099") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(list, "127.0.0.1:5099") || !strings.Contains(list, c.LocalAddr().String()) {
		t.Errorf("tcp list does not show the connection %s with alias 127.0.0.1:5099:\n%s", c.LocalAddr(), list)
	}
	if out, code := ctl(t, bin, h, "tok", "tcp", "info"); code != 0 || !strings.Contains(out, "Workers") {
		t.Errorf("tcp info: exit %d\n%s", code, out)
	}
}

// TestRawSIPOverTCP: Kamailio's stream rules as hepd applies them, one row
// per behaviour: CRLF keep-alive pongs, tcp_accept_no_cl both ways,
// tcp_script_mode both ways.
func TestRawSIPOverTCP(t *testing.T) {
	bin := buildBin(t, "./cmd/hepd")
	noCL := "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK2\r\n" +
		"From: <sip:a@x>;tag=2\r\nTo: <sip:b@x>\r\nCall-ID: nocl-1\r\nCSeq: 1 MESSAGE\r\n\r\n"
	noCallID := strings.Replace(sipRequest("OPTIONS", "x", "127.0.0.1:5070", 0), "Call-ID: x\r\n", "", 1)
	for _, tc := range []struct {
		name   string
		env    map[string]string
		send   []string
		closed bool
		rows   int64
		pong   bool
	}{
		{"CRLF ping answered with CRLF", nil, []string{"\r\n\r\n"}, false, 0, true},
		{"no pong when tcp_crlf_ping=no", map[string]string{"HEPD_TCP_CRLF_PING": "no"}, []string{"\r\n\r\n"}, false, 0, false},
		{"no Content-Length refused", nil, []string{noCL}, true, 0, false},
		{"no Content-Length accepted", map[string]string{"HEPD_TCP_ACCEPT_NO_CL": "yes"}, []string{noCL}, false, 1, false},
		{"script_mode 0 closes on a bad message", nil, []string{noCallID, sipRequest("OPTIONS", "after-1", "127.0.0.1:5070", 0)}, true, 0, false},
		{"script_mode 1 goes on", map[string]string{"HEPD_TCP_SCRIPT_MODE": "1"}, []string{noCallID, sipRequest("OPTIONS", "after-1", "127.0.0.1:5070", 0)}, false, 1, false},
		{"pipelined messages split across writes", nil, []string{sipRequest("INVITE", "p-1", "h", 300)[:100], sipRequest("INVITE", "p-1", "h", 300)[100:] + "\r\n" + sipRequest("BYE", "p-1", "h", 0)}, false, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := pgtest.DSN(t)
			env := map[string]string{"HEPD_DB_DSN": dsn}
			for k, v := range tc.env {
				env[k] = v
			}
			h := startHepd(t, bin, env)
			c := dial(t, h.sip.String())
			for _, s := range tc.send {
				c.Write([]byte(s))
				time.Sleep(20 * time.Millisecond) // separate segments, as a trickling agent sends them
			}
			if tc.pong {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 8)
				n, err := c.Read(buf)
				if err != nil || string(buf[:n]) != "\r\n" {
					t.Fatalf("pong: %q, %v; want CRLF", buf[:n], err)
				}
			} else if got := closedByPeer(c, 2*time.Second); got != tc.closed {
				t.Fatalf("connection closed by hepd: %v, want %v", got, tc.closed)
			}
			c.Close()
			time.Sleep(100 * time.Millisecond) // the FIN before SIGTERM: reads are under test, not the race
			if code := h.stop(t); code != 0 {
				t.Fatalf("exit %d", code)
			}
			var n int64
			for _, v := range tableCounts(t, connect(t, dsn)) {
				n += v
			}
			if n != tc.rows {
				t.Fatalf("%d rows, want %d", n, tc.rows)
			}
		})
	}
}
