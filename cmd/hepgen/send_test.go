package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hepd/hepd/hep"
)

// receiver collects what a test server received: per Call-ID the sequence
// of start-line labels, in arrival order.
type receiver struct {
	mu     sync.Mutex
	frames int
	bytes  int
	calls  map[string][]string
	errs   []error
}

func (r *receiver) frame(b []byte) {
	var p hep.Packet
	err := hep.Decode(b, &p)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
		return
	}
	r.frames++
	r.bytes += len(b)
	head, _, _ := strings.Cut(string(p.Payload), "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	for _, l := range lines[1:] {
		if id, ok := strings.CutPrefix(l, "Call-ID: "); ok {
			r.calls[id] = append(r.calls[id], labelOf(lines[0]))
		}
	}
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames
}

// tcpReceiver accepts connections and reads HEP3 frames framed by their
// total length.
func tcpReceiver(t *testing.T) (*receiver, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &receiver{calls: map[string][]string{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					hdr, err := br.Peek(6)
					if err != nil {
						return
					}
					frame := make([]byte, binary.BigEndian.Uint16(hdr[4:]))
					if _, err := io.ReadFull(br, frame); err != nil {
						return
					}
					r.frame(frame)
				}
			}()
		}
	}()
	return r, ln.Addr().String()
}

func udpReceiver(t *testing.T) (*receiver, string) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	r := &receiver{calls: map[string][]string{}}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			r.frame(bytes.Clone(buf[:n]))
		}
	}()
	return r, pc.LocalAddr().String()
}

// closedAddr returns a loopback address of network ("tcp" or "udp") that
// was just bound and released: nothing listens there now.
func closedAddr(t *testing.T, network string) string {
	t.Helper()
	var c io.Closer
	var addr string
	if network == "udp" {
		pc, err := net.ListenPacket(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, addr = pc, pc.LocalAddr().String()
	} else {
		ln, err := net.Listen(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, addr = ln, ln.Addr().String()
	}
	c.Close()
	return addr
}

func waitFor(t *testing.T, r *receiver, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for r.count() < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.frames != n || len(r.errs) != 0 {
		t.Fatalf("received %d frames (decode errors %v), want %d", r.frames, r.errs, n)
	}
}

// TestSendDeliversEveryFrameInOrder: over UDP with GSO as well, the
// receiver gets one datagram per message, and each call's messages in order.
func TestSendDeliversEveryFrameInOrder(t *testing.T) {
	for _, tc := range []struct {
		transport string
		gso       bool
	}{{"tcp", false}, {"udp", false}, {"udp", true}} {
		transport := tc.transport
		t.Run(fmt.Sprintf("%s/gso=%v", transport, tc.gso), func(t *testing.T) {
			var r *receiver
			var addr string
			cfg := config{transport: transport, conns: 3, calls: 20, registrations: 5, options: 5, prefix: "snd", nodeID: 7, gso: tc.gso}
			if transport == "tcp" {
				r, addr = tcpReceiver(t)
			} else {
				r, addr = udpReceiver(t)
				cfg.rate = 20000 // loopback UDP drops what the receiver cannot keep up with
			}
			cfg.target = addr
			s := send(context.Background(), &cfg)
			want := 20*7 + 5*4 + 5*2
			if s.errors != 0 || s.firstErr != nil || s.total != want {
				t.Fatalf("sent %d, %d errors (%v); want %d", s.total, s.errors, s.firstErr, want)
			}
			waitFor(t, r, want)
			switch {
			case tc.gso && gsoSupported && s.segmented == 0:
				t.Error("no datagram went in a GSO write")
			case !tc.gso && s.segmented != 0:
				t.Errorf("%d datagrams went in GSO writes with -gso=false", s.segmented)
			}
			if s.bytes != r.bytes {
				t.Errorf("counted %d bytes, received %d", s.bytes, r.bytes)
			}
			if s.sent[labelINVITE] != 20 || s.sent[label200] != 20*2+5+5 || s.sent[labelREGISTER] != 10 ||
				s.tables[tableCall] != 140 || s.tables[tableRegistration] != 20 || s.tables[tableDefault] != 10 {
				t.Errorf("counts %v, tables %v", s.sent, s.tables)
			}
			if len(r.calls) != 30 {
				t.Errorf("%d Call-IDs received, want 30", len(r.calls))
			}
			for id, seq := range r.calls {
				got := strings.Join(seq, " ")
				if got != "INVITE 100 180 200 ACK BYE 200" && got != "REGISTER 401 REGISTER 200" && got != "OPTIONS 200" {
					t.Errorf("%s arrived as %s", id, got)
				}
			}
		})
	}
}

func TestSendPacesToRate(t *testing.T) {
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			r, addr := tcpReceiver(t)
			if transport == "udp" {
				r, addr = udpReceiver(t)
			}
			cfg := config{transport: transport, target: addr, conns: 2, rate: 2000, calls: 40, prefix: "pace"} // 280 messages
			start := time.Now()
			s := send(context.Background(), &cfg)
			elapsed := time.Since(start)
			if s.errors != 0 {
				t.Fatal(s.firstErr)
			}
			// 280 messages at 2000/s take 140 ms, less the few tokens a bucket holds.
			if elapsed < 110*time.Millisecond || elapsed > 2*time.Second {
				t.Errorf("sent 280 messages at -rate 2000 in %v, want about 140ms", elapsed)
			}
			waitFor(t, r, 280)
		})
	}
}

// TestSendUDPToClosedPort: the refusals the kernel reports (ICMP port
// unreachable) are counted, and every message is either sent or an error.
func TestSendUDPToClosedPort(t *testing.T) {
	addr := closedAddr(t, "udp")
	cfg := config{transport: "udp", target: addr, conns: 1, calls: 100, prefix: "closed"} // 700 messages
	s := send(context.Background(), &cfg)
	if s.total+s.errors != 700 || s.errors == 0 || !errors.Is(s.firstErr, syscall.ECONNREFUSED) {
		t.Errorf("sent %d, %d errors (%v); want 700 in all, some refused", s.total, s.errors, s.firstErr)
	}
}

func TestSendCountsUnsentMessagesAsErrors(t *testing.T) {
	addr := closedAddr(t, "tcp")
	cfg := config{transport: "tcp", target: addr, conns: 2, calls: 3, prefix: "x"}
	s := send(context.Background(), &cfg)
	if s.total != 0 || s.errors != 21 || s.firstErr == nil {
		t.Errorf("sent %d, %d errors (%v); want 0, 21, a dial error", s.total, s.errors, s.firstErr)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, addr = tcpReceiver(t)
	cfg = config{transport: "tcp", target: addr, conns: 1, calls: 3, prefix: "x"}
	if s := send(ctx, &cfg); s.errors != 21 || !errors.Is(s.firstErr, context.Canceled) {
		t.Errorf("cancelled run: %d errors (%v), want 21, context.Canceled", s.errors, s.firstErr)
	}
}

func TestRunPrintsJSONSummary(t *testing.T) {
	_, addr := tcpReceiver(t)
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"-json", "-calls", "2", "-registers", "1", "-options", "1", "-conns", "2", addr}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut.String())
	}
	var sum struct {
		Sent    map[string]int
		Tables  map[string]int
		Total   int
		Bytes   int
		Seconds float64
		Errors  int
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if sum.Total != 20 || sum.Errors != 0 || sum.Bytes == 0 || sum.Seconds <= 0 ||
		sum.Sent["INVITE"] != 2 || sum.Sent["401"] != 1 || sum.Sent["OPTIONS"] != 1 || sum.Sent["200"] != 6 ||
		sum.Tables["hep_proto_1_call"] != 14 || sum.Tables["hep_proto_1_registration"] != 4 || sum.Tables["hep_proto_1_default"] != 2 {
		t.Errorf("summary %s", out.String())
	}
}

func TestRunExitCodes(t *testing.T) {
	closed := closedAddr(t, "tcp")
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no target", []string{"-calls", "1"}, 2},
		{"bad transport", []string{"-transport", "sctp", "127.0.0.1:9060"}, 2},
		{"nothing to send", []string{"-calls", "0", "127.0.0.1:9060"}, 2},
		{"target without port", []string{"127.0.0.1"}, 2},
		{"unknown flag", []string{"-bogus", "127.0.0.1:9060"}, 2},
		{"send failure", []string{"-calls", "1", closed}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tt.args, &out, &errOut); code != tt.code {
				t.Errorf("exit %d, want %d; stdout %q stderr %q", code, tt.code, out.String(), errOut.String())
			}
		})
	}
}

// TestSequence: every message of every unit of a connection exactly once,
// each unit's in order; over UDP, the messages between two step ends are of
// distinct units, so a sender may reorder them.
func TestSequence(t *testing.T) {
	for _, tc := range []struct {
		transport                string
		conns, calls, regs, opts int
	}{
		{"tcp", 1, 5, 2, 2},
		{"tcp", 3, 10, 4, 3},
		{"udp", 1, 5, 2, 2},
		{"udp", 2, 100, 70, 90}, // windows of mixed kinds, the last one partial
		{"udp", 3, 0, 0, 200},
		{"udp", 4, 129, 0, 0},
	} {
		name := fmt.Sprintf("%s/conns=%d/%d,%d,%d", tc.transport, tc.conns, tc.calls, tc.regs, tc.opts)
		t.Run(name, func(t *testing.T) {
			cfg := config{transport: tc.transport, conns: tc.conns, calls: tc.calls, registrations: tc.regs, options: tc.opts}
			next := map[unit]int{} // the message each unit is due to send
			total := 0
			for w := range cfg.conns {
				var inStep map[unit]bool
				for st := range cfg.sequence(w) {
					total++
					if next[st.u] != st.m {
						t.Fatalf("conn %d: unit %v message %d, want %d", w, st.u, st.m, next[st.u])
					}
					next[st.u]++
					if tc.transport == "tcp" {
						if st.last {
							t.Fatal("a TCP sequence marks step ends")
						}
						continue
					}
					if inStep == nil {
						inStep = map[unit]bool{}
					}
					if inStep[st.u] {
						t.Fatalf("conn %d: unit %v twice in one step", w, st.u)
					}
					inStep[st.u] = true
					if len(inStep) > datagramBatch {
						t.Fatalf("conn %d: a step of %d messages", w, len(inStep))
					}
					if st.last {
						inStep = nil
					}
				}
				if inStep != nil {
					t.Fatalf("conn %d: the last step has no end mark", w)
				}
			}
			if total != cfg.messages() || len(next) != cfg.units() {
				t.Fatalf("%d messages of %d units, want %d of %d", total, len(next), cfg.messages(), cfg.units())
			}
			for u, n := range next {
				if n != u.kind.messages() {
					t.Errorf("unit %v sent %d of %d messages", u, n, u.kind.messages())
				}
			}
		})
	}
}
