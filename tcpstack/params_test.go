package tcpstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hepd/hepd/internal/testnet"
	"golang.org/x/sys/unix"
)

// paramTest is one behaviour of one tcp_* parameter, observed from outside
// the stack: socket options with getsockopt on the stack's socket, bytes and
// EOFs seen by a peer, frames seen by the sink, counters.
type paramTest struct {
	name string
	mod  func(*Config)
	sink func() Sink // default: a collector
	run  func(t *testing.T, s *Stack, col *collector)
}

func runParamTests(t *testing.T, tests []paramTest) {
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forMethods(t, func(t *testing.T, m string) {
				cfg := testConfig(m)
				if tt.mod != nil {
					tt.mod(&cfg)
				}
				col := newCollector()
				var sink Sink = col
				if tt.sink != nil {
					sink = tt.sink()
					if cs, ok := sink.(checkedSink); ok {
						col = cs.collector
					}
				}
				s := startStack(t, cfg, sink)
				tt.run(t, s, col)
			})
		})
	}
}

func TestSocketOptions(t *testing.T) {
	tcp := unix.IPPROTO_TCP
	accepted := func(level, opt, want int) func(t *testing.T, s *Stack, _ *collector) {
		return func(t *testing.T, s *Stack, _ *collector) {
			c := dial(t, s)
			if got := getOpt(t, acceptedSocket(t, c), level, opt); got != want {
				t.Fatalf("accepted socket: option %d = %d, want %d", opt, got, want)
			}
		}
	}
	runParamTests(t, []paramTest{
		{name: "tcp_keepalive=yes sets SO_KEEPALIVE on accepted sockets (inherited)",
			run: accepted(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)},
		{name: "tcp_keepalive=no leaves SO_KEEPALIVE off", mod: func(c *Config) { c.KeepAlive = false },
			run: accepted(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0)},
		{name: "tcp_keepidle forces tcp_keepalive on", mod: func(c *Config) { c.KeepAlive = false; c.KeepIdle = 30 },
			run: accepted(unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)},
		{name: "tcp_keepidle is TCP_KEEPIDLE", mod: func(c *Config) { c.KeepIdle = 31 }, run: accepted(tcp, unix.TCP_KEEPIDLE, 31)},
		{name: "tcp_keepintvl is TCP_KEEPINTVL", mod: func(c *Config) { c.KeepIntvl = 7 }, run: accepted(tcp, unix.TCP_KEEPINTVL, 7)},
		{name: "tcp_keepcnt is TCP_KEEPCNT", mod: func(c *Config) { c.KeepCnt = 4 }, run: accepted(tcp, unix.TCP_KEEPCNT, 4)},
		{name: "tcp_linger2 is TCP_LINGER2", mod: func(c *Config) { c.Linger2 = 17 }, run: accepted(tcp, unix.TCP_LINGER2, 17)},
		{name: "tcp_send_timeout is TCP_USER_TIMEOUT in ms", mod: func(c *Config) { c.SendTimeout = 3 * time.Second },
			run: accepted(tcp, unix.TCP_USER_TIMEOUT, 3000)},
		{name: "tcp_send_timeout default 10 s is TCP_USER_TIMEOUT 10000", run: accepted(tcp, unix.TCP_USER_TIMEOUT, 10000)},
		{name: "tcp_syncnt is TCP_SYNCNT on the listener", mod: func(c *Config) { c.SynCnt = 3 },
			run: func(t *testing.T, s *Stack, _ *collector) {
				if got := getOpt(t, findSocket(t, s.Addrs()[0], netip.AddrPort{}), tcp, unix.TCP_SYNCNT); got != 3 {
					t.Fatalf("listener TCP_SYNCNT %d, want 3", got)
				}
			}},
		{name: "SO_REUSEADDR on the listener", run: func(t *testing.T, s *Stack, _ *collector) {
			if got := getOpt(t, findSocket(t, s.Addrs()[0], netip.AddrPort{}), unix.SOL_SOCKET, unix.SO_REUSEADDR); got != 1 {
				t.Fatalf("listener SO_REUSEADDR %d", got)
			}
		}},
		{name: "tcp_defer_accept: TCP_DEFER_ACCEPT on the listener, silent connections are not accepted",
			mod: func(c *Config) { c.DeferAccept = 2 },
			run: func(t *testing.T, s *Stack, col *collector) {
				if got := getOpt(t, findSocket(t, s.Addrs()[0], netip.AddrPort{}), tcp, unix.TCP_DEFER_ACCEPT); got < 2 {
					t.Fatalf("listener TCP_DEFER_ACCEPT %d, want ≥ 2", got)
				}
				dial(t, s) // silent: the kernel holds it
				talker := dial(t, s)
				write(t, talker, ping)
				expectPong(t, talker)
				if st := s.Stats(); st.Accepted != 1 {
					t.Fatalf("accepted %d connections, want only the one that sent data", st.Accepted)
				}
			}},
		{name: "tcp_reuse_port=no: a second stack cannot bind the port",
			run: func(t *testing.T, s *Stack, _ *collector) {
				cfg := testConfig("epoll_lt")
				cfg.Listen = s.Addrs()
				if s2, err := New(cfg, newCollector(), nil); err == nil {
					s2.Shutdown(context.Background())
					t.Fatal("second stack bound the same port")
				}
			}},
		{name: "tcp_reuse_port=yes: two stacks bound to one port both accept",
			mod: func(c *Config) {
				// An explicit port: bind(port 0) with SO_REUSEPORT may hand out a
				// port another test's reuse group already has.
				c.ReusePort = true
				c.Listen = []netip.AddrPort{freePort()}
			},
			run: func(t *testing.T, s *Stack, col *collector) {
				if got := getOpt(t, findSocket(t, s.Addrs()[0], netip.AddrPort{}), unix.SOL_SOCKET, unix.SO_REUSEPORT); got != 1 {
					t.Fatalf("listener SO_REUSEPORT %d", got)
				}
				cfg := testConfig("epoll_lt")
				cfg.Listen, cfg.ReusePort = s.Addrs(), true
				col2 := newCollector()
				s2 := startStack(t, cfg, col2)
				// The kernel spreads connections by hash: some reach each.
				for i := 0; i < 200 && (len(col.snapshot()) == 0 || len(col2.snapshot()) == 0); i++ {
					n1, n2 := len(col.snapshot()), len(col2.snapshot())
					c := dial(t, s)
					write(t, c, hep3(20, 'r'))
					eventually(t, "frame delivered by one of the stacks", func() bool {
						return len(col.snapshot())+len(col2.snapshot()) > n1+n2
					})
					c.Close()
				}
				if len(col.snapshot()) == 0 || len(col2.snapshot()) == 0 {
					t.Fatalf("frames: first stack %d, second %d; want both > 0", len(col.snapshot()), len(col2.snapshot()))
				}
				_ = s2
			}},
	})
}

func TestRuntimeSocketOptionsReachNewConnectionsOnly(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		s := startStack(t, testConfig(m), newCollector())
		old := dial(t, s)
		oldFD := acceptedSocket(t, old)
		for _, p := range [][2]string{{"tcp_keepidle", "45"}, {"keepintvl", "9"}, {"tcp_keepcnt", "3"}, {"tcp_linger2", "11"}, {"tcp_send_timeout", "4"}} {
			if _, _, err := s.SetParam(p[0], p[1]); err != nil {
				t.Fatal(err)
			}
		}
		young := dial(t, s)
		fd := acceptedSocket(t, young)
		tcp := unix.IPPROTO_TCP
		for _, o := range []struct {
			name      string
			opt, want int
		}{{"TCP_KEEPIDLE", unix.TCP_KEEPIDLE, 45}, {"TCP_KEEPINTVL", unix.TCP_KEEPINTVL, 9}, {"TCP_KEEPCNT", unix.TCP_KEEPCNT, 3},
			{"TCP_LINGER2", unix.TCP_LINGER2, 11}, {"TCP_USER_TIMEOUT", unix.TCP_USER_TIMEOUT, 4000}} {
			if got := getOpt(t, fd, tcp, o.opt); got != o.want {
				t.Errorf("new connection %s = %d, want %d", o.name, got, o.want)
			}
		}
		if got := getOpt(t, oldFD, tcp, unix.TCP_KEEPIDLE); got == 45 {
			t.Errorf("existing connection's TCP_KEEPIDLE changed to %d", got)
		}
		if got := getOpt(t, oldFD, tcp, unix.TCP_USER_TIMEOUT); got != 10000 {
			t.Errorf("existing connection's TCP_USER_TIMEOUT %d, want 10000", got)
		}
		// 0 puts the kernel's default back.
		if _, _, err := s.SetParam("tcp_keepidle", "0"); err != nil {
			t.Fatal(err)
		}
		def, _ := kernelDefault("tcp_keepalive_time")
		if got := getOpt(t, acceptedSocket(t, dial(t, s)), tcp, unix.TCP_KEEPIDLE); got != def {
			t.Errorf("after keepidle=0: TCP_KEEPIDLE %d, want the kernel's %d", got, def)
		}
	})
}

func TestStreams(t *testing.T) {
	runParamTests(t, []paramTest{
		{name: "tcp_crlf_ping=yes answers CRLFCRLF with CRLF", run: func(t *testing.T, s *Stack, col *collector) {
			c := dial(t, s)
			write(t, c, ping)
			expectPong(t, c)
			write(t, c, append([]byte("\r\n"), hep3(30, 'p')...)) // a lone CRLF is skipped, unanswered
			col.waitFrames(t, 1)
			expectSilence(t, c)
			eventually(t, "ping counted", func() bool { return s.Stats().Pings == 1 })
		}},
		{name: "tcp_crlf_ping=no skips pings silently", mod: func(c *Config) { c.CRLFPing = false },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, append(append([]byte(nil), ping...), hep3(30, 'p')...))
				col.waitFrames(t, 1)
				expectSilence(t, c)
			}},
		{name: "tcp_crlf_ping switched off at runtime", run: func(t *testing.T, s *Stack, col *collector) {
			if old, nw, err := s.SetParam("tcp_crlf_ping", "off"); err != nil || old != "yes" || nw != "no" {
				t.Fatalf("SetParam = %q, %q, %v", old, nw, err)
			}
			c := dial(t, s)
			write(t, c, append(append([]byte(nil), ping...), hep3(30, 'p')...))
			col.waitFrames(t, 1)
			expectSilence(t, c)
		}},
		{name: "HEP3, SIP and pings interleaved on one connection", run: func(t *testing.T, s *Stack, col *collector) {
			c := dial(t, s)
			sip := sipReq("SIP/2.0/TCP 10.0.0.1:5060")
			write(t, c, bytes.Join([][]byte{hep3(40, 'a'), ping, sip, hep3(50, 'b')}, nil))
			expectPong(t, c)
			got := col.waitFrames(t, 3)
			if got[0].Kind != FrameHEP3 || got[1].Kind != FrameSIP || !bytes.Equal(got[1].Data, sip) || got[2].Kind != FrameHEP3 {
				t.Fatalf("frames %v %v %v", got[0].Kind, got[1].Kind, got[2].Kind)
			}
		}},
		{name: "raw SIP capture stream (sipp, 45 messages) in odd-sized writes", run: func(t *testing.T, s *Stack, col *collector) {
			stream, err := os.ReadFile("../testdata/sipp-raw-sip-tcp-stream-5calls.bin")
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, s)
			for p, i := stream, 0; len(p) > 0; i++ {
				n := min([]int{1, 700, 13, 2, 4096}[i%5], len(p))
				write(t, c, p[:n])
				p = p[n:]
			}
			// The capture's own decoding lists each message's length.
			var want []int
			dec, err := os.ReadFile("../testdata/sipp-raw-sip-tcp-stream-5calls.bin.decoded.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range bytes.Split(bytes.TrimSpace(dec), []byte("\n")) {
				var m struct{ Length int }
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatal(err)
				}
				want = append(want, m.Length)
			}
			got := col.waitFrames(t, len(want))
			var all []byte
			for i, f := range got {
				if f.Kind != FrameSIP || len(f.Data) != want[i] {
					t.Fatalf("frame %d: kind %v, %d bytes, want SIP of %d", i, f.Kind, len(f.Data), want[i])
				}
				all = append(all, f.Data...)
			}
			if len(got) != len(want) || !bytes.Equal(all, stream) {
				t.Fatalf("%d frames, %d of %d bytes", len(got), len(all), len(stream))
			}
		}},
		{name: "tcp_accept_no_cl=no closes on SIP without Content-Length", run: func(t *testing.T, s *Stack, col *collector) {
			c := dial(t, s)
			write(t, c, []byte("OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n\r\n"))
			expectEOF(t, c, 5*time.Second)
			eventually(t, "counted", func() bool { return s.Stats().FrameErrors.NoContentLength == 1 })
		}},
		{name: "tcp_accept_no_cl=yes ends the message at the blank line", mod: func(c *Config) { c.AcceptNoCL = true },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				msg := []byte("OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n\r\n")
				write(t, c, msg)
				if f := col.waitFrames(t, 1)[0]; f.Kind != FrameSIP || !bytes.Equal(f.Data, msg) {
					t.Fatalf("frame %v %q", f.Kind, f.Data)
				}
				write(t, c, ping)
				expectPong(t, c)
			}},
		{name: "tcp_accept_hep3=no frames HEP3 as SIP (never complete, closed at tcp_rd_buf_size)",
			mod: func(c *Config) { c.AcceptHEP3 = false; c.RdBufSize = 512 },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, hep3(600, 'h'))
				expectEOF(t, c, 5*time.Second)
				if n := len(col.snapshot()); n != 0 {
					t.Fatalf("%d frames delivered", n)
				}
				eventually(t, "too large counted", func() bool { return s.Stats().FrameErrors.TooLarge == 1 })
			}},
		{name: "tcp_rd_buf_size: a SIP message of rd_buf_size−1 passes, one byte more closes",
			mod: func(c *Config) { c.RdBufSize = 1024 },
			run: func(t *testing.T, s *Stack, col *collector) {
				msg := func(n int) []byte {
					head := "MESSAGE sip:a SIP/2.0\r\nContent-Length: 0000\r\n\r\n"
					body := strings.Repeat("x", n-len(head))
					return []byte(strings.Replace(head, "0000", fmt.Sprintf("%04d", len(body)), 1) + body)
				}
				c := dial(t, s)
				write(t, c, msg(1023))
				col.waitFrames(t, 1)
				write(t, c, msg(1024))
				expectEOF(t, c, 5*time.Second)
			}},
		{name: "tcp_script_mode=0: a frame the sink fails closes the connection", sink: func() Sink { return checkedSink{newCollector()} },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, append(hep3(40, 'g'), []byte("HEP3\x00\x0aBAD!")...))
				col.waitFrames(t, 2)
				expectEOF(t, c, 5*time.Second)
				eventually(t, "counted", func() bool {
					st := s.Stats()
					return st.ClosedByProcessing == 1 && st.ProcessingErrors == 1
				})
			}},
		{name: "tcp_script_mode=1: the connection stays after a failed frame", sink: func() Sink { return checkedSink{newCollector()} },
			mod: func(c *Config) { c.ScriptMode = 1 },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, sipReq("SIP/2.0/TCP BAD:1"))
				col.waitFrames(t, 1)
				write(t, c, ping)
				expectPong(t, c)
				eventually(t, "counted", func() bool { return s.Stats().ProcessingErrors == 1 })
			}},
	})
}

func TestCloneRcvBuf(t *testing.T) {
	for _, clone := range []bool{false, true} {
		t.Run(fmt.Sprintf("tcp_clone_rcvbuf=%v", clone), func(t *testing.T) {
			forMethods(t, func(t *testing.T, m string) {
				cfg := testConfig(m)
				cfg.Children = 1
				cfg.CloneRcvBuf = clone
				ks := &keepSink{got: make(chan struct{}, 16)}
				s := startStack(t, cfg, ks)
				c := dial(t, s)
				a, b := hep3(64, 'a'), hep3(64, 'b')
				write(t, c, a)
				<-ks.got
				write(t, c, b) // read into the same place of the worker's buffer
				<-ks.got
				ks.mu.Lock()
				kept := bytes.Clone(ks.frames[0])
				ks.mu.Unlock()
				if clone && !bytes.Equal(kept, a) {
					t.Fatal("with tcp_clone_rcvbuf=1 a kept frame changed after Deliver")
				}
				if !clone && !bytes.Equal(kept, b) {
					t.Fatal("with tcp_clone_rcvbuf=0 the frame was not a view of the stack's buffer")
				}
			})
		})
	}
}

func TestProxyProtocol(t *testing.T) {
	v1 := func(src, dst string) []byte {
		s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
		return fmt.Appendf(nil, "PROXY TCP4 %v %v %d %d\r\n", s.Addr(), d.Addr(), s.Port(), d.Port())
	}
	haproxy := func(c *Config) { c.AcceptHAProxy = true; c.WaitData = time.Second }
	runParamTests(t, []paramTest{
		{name: "tcp_accept_haproxy: v1 header sets Remote and Local, Peer is the proxy", mod: haproxy,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, append(v1("192.0.2.7:4444", "198.51.100.1:9060"), hep3(30, 'x')...))
				f := col.waitFrames(t, 1)[0]
				if f.Remote.String() != "192.0.2.7:4444" || f.Local.String() != "198.51.100.1:9060" || !f.Proxied || f.Peer.String() != c.LocalAddr().String() {
					t.Fatalf("frame remote %v local %v proxied %v peer %v", f.Remote, f.Local, f.Proxied, f.Peer)
				}
				ci := s.Conns()
				if len(ci) != 1 || ci[0].Remote != f.Remote || !ci[0].Proxied || ci[0].Peer != f.Peer {
					t.Fatalf("Conns %+v", ci)
				}
			}},
		{name: "tcp_accept_haproxy: header split across writes", mod: haproxy,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				h := v1("192.0.2.7:4444", "198.51.100.1:9060")
				write(t, c, h[:9])
				eventually(t, "first part read", func() bool { return s.Stats().Bytes >= 9 })
				write(t, c, append(h[9:], hep3(30, 'x')...))
				if f := col.waitFrames(t, 1)[0]; f.Remote.String() != "192.0.2.7:4444" {
					t.Fatalf("remote %v", f.Remote)
				}
			}},
		{name: "tcp_accept_haproxy: haproxy v1 and v2 captures", mod: haproxy,
			run: func(t *testing.T, s *Stack, col *collector) {
				for _, name := range []string{"haproxy-proxy-v1-hep3-stream-2calls.bin", "haproxy-proxy-v2-hep3-stream-2calls.bin"} {
					data, err := os.ReadFile("../testdata/" + name)
					if err != nil {
						t.Fatal(err)
					}
					// The capture's decoding: the PROXY addresses, then each frame.
					dec, err := os.ReadFile("../testdata/" + name + ".decoded.jsonl")
					if err != nil {
						t.Fatal(err)
					}
					var src, dst netip.AddrPort
					var lengths []int
					for _, line := range bytes.Split(bytes.TrimSpace(dec), []byte("\n")) {
						var r struct {
							Proxy *struct{ Src, Dst string }
							HEP   *struct{ Length int }
						}
						if err := json.Unmarshal(line, &r); err != nil {
							t.Fatal(err)
						}
						if r.Proxy != nil {
							src, dst = netip.MustParseAddrPort(r.Proxy.Src), netip.MustParseAddrPort(r.Proxy.Dst)
						}
						if r.HEP != nil {
							lengths = append(lengths, r.HEP.Length)
						}
					}
					n := len(col.snapshot())
					c := dial(t, s)
					write(t, c, data)
					got := col.waitFrames(t, n+len(lengths))[n:]
					for i, f := range got {
						if f.Kind != FrameHEP3 || len(f.Data) != lengths[i] || !f.Proxied || f.Remote != src || f.Local != dst {
							t.Fatalf("%s frame %d: %v, %d bytes (want %d), remote %v local %v (want %v %v)",
								name, i, f.Kind, len(f.Data), lengths[i], f.Remote, f.Local, src, dst)
						}
					}
				}
			}},
		{name: "tcp_accept_haproxy: v2 LOCAL keeps the real addresses", mod: haproxy,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, append(v2(0x20, 0x00, nil), hep3(30, 'x')...))
				if f := col.waitFrames(t, 1)[0]; f.Proxied || f.Remote.String() != c.LocalAddr().String() {
					t.Fatalf("frame remote %v proxied %v", f.Remote, f.Proxied)
				}
			}},
		{name: "tcp_accept_haproxy: v2 PROXY for UDP is rejected", mod: haproxy,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, append(v2(0x21, 0x12, []byte{192, 0, 2, 1, 192, 0, 2, 2, 0x13, 0x88, 0x13, 0x89}), hep3(30, 'x')...))
				expectEOF(t, c, 5*time.Second)
				eventually(t, "rejection counted", func() bool { return s.Stats().RejectedProxy == 1 })
			}},
		{name: "tcp_accept_haproxy: a connection without a PROXY header is rejected", mod: haproxy,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, hep3(30, 'x'))
				expectEOF(t, c, 5*time.Second)
				eventually(t, "rejection counted", func() bool { st := s.Stats(); return st.RejectedProxy == 1 && st.Open == 0 })
				if len(col.snapshot()) != 0 {
					t.Fatal("frame delivered")
				}
			}},
		{name: "tcp_wait_data: a silent connection is closed after the wait, others are not delayed", mod: haproxy,
			run: func(t *testing.T, s *Stack, col *collector) {
				start := time.Now()
				silent := dial(t, s)
				other := dial(t, s)
				write(t, other, append(v1("192.0.2.7:1", "192.0.2.8:2"), ping...))
				expectPong(t, other)
				if d := time.Since(start); d > 900*time.Millisecond {
					t.Fatalf("other connection answered after %v: delayed by the silent one's wait", d)
				}
				expectEOF(t, silent, 5*time.Second)
				// tcp_wait_data plus Kamailio's polling step (10 ms at 1 s).
				if d := time.Since(start); d < time.Second || d > 4*time.Second {
					t.Fatalf("silent connection closed after %v, want about tcp_wait_data 1s", d)
				}
				eventually(t, "rejection counted", func() bool { return s.Stats().RejectedProxy == 1 })
			}},
		{name: "tcp_accept_unique: a second connection with the same proxied addresses is rejected without leaking a slot",
			mod: func(c *Config) { haproxy(c); c.AcceptUnique = true; c.MaxConnections = 2 },
			run: func(t *testing.T, s *Stack, col *collector) {
				h := v1("192.0.2.5:2222", "192.0.2.1:1111")
				a := dial(t, s)
				write(t, a, append(h, ping...))
				expectPong(t, a)
				b := dial(t, s)
				write(t, b, append(h, ping...))
				expectEOF(t, b, 5*time.Second)
				eventually(t, "unique rejection counted", func() bool { st := s.Stats(); return st.RejectedUnique == 1 && st.Open == 1 })
				c := dial(t, s) // the slot b held is free again
				write(t, c, append(v1("192.0.2.5:2223", "192.0.2.1:1111"), ping...))
				expectPong(t, c)
			}},
	})
}

func TestAliasesAndLookup(t *testing.T) {
	runParamTests(t, []paramTest{
		{name: "tcp_accept_aliases=yes: Via ;alias makes the connection findable at the Via port",
			mod: func(c *Config) { c.AcceptAliases = true },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, sipReq("SIP/2.0/TCP 203.0.113.9:5099;branch=z9hG4bK1;alias"))
				f := col.waitFrames(t, 1)[0]
				alias := netip.MustParseAddrPort("127.0.0.1:5099")
				id, ok := s.Lookup(alias)
				if !ok || id != f.ConnID {
					t.Fatalf("Lookup(%v) = %d, %v; want %d", alias, id, ok, f.ConnID)
				}
				// Dial reuses it: the client's socket receives the bytes.
				did, err := s.Dial(context.Background(), alias)
				if err != nil || did != f.ConnID {
					t.Fatalf("Dial = %d, %v", did, err)
				}
				if err := s.Write(did, []byte("hello")); err != nil {
					t.Fatal(err)
				}
				if got := readN(t, c, 5); string(got) != "hello" {
					t.Fatalf("client read %q", got)
				}
				if ci := s.Conns(); len(ci) != 1 || len(ci[0].Aliases) != 1 || ci[0].Aliases[0] != alias {
					t.Fatalf("Conns %+v", ci)
				}
			}},
		{name: "tcp_accept_aliases=no: no alias", run: func(t *testing.T, s *Stack, col *collector) {
			c := dial(t, s)
			write(t, c, sipReq("SIP/2.0/TCP 203.0.113.9:5099;alias"))
			col.waitFrames(t, 1)
			if _, ok := s.Lookup(netip.MustParseAddrPort("127.0.0.1:5099")); ok {
				t.Fatal("alias registered")
			}
			if _, ok := s.Lookup(netip.MustParseAddrPort(c.LocalAddr().String())); !ok {
				t.Fatal("connection not found by its remote address")
			}
		}},
		{name: "tcp_accept_aliases: never from SIP inside HEP3, never from responses", mod: func(c *Config) { c.AcceptAliases = true },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, []byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 1.2.3.4:5099;alias\r\nContent-Length: 0\r\n\r\n"))
				col.waitFrames(t, 1)
				if _, ok := s.Lookup(netip.MustParseAddrPort("127.0.0.1:5099")); ok {
					t.Fatal("alias registered from a response")
				}
			}},
	})
}

// TestConnectionMatch shows tcp_connection_match: with two connections
// aliased to one address, 0 picks the newest, 1 the one on the port hepd
// sends from (its first listener).
func TestConnectionMatch(t *testing.T) {
	for _, mode := range []int{0, 1} {
		t.Run(fmt.Sprintf("tcp_connection_match=%d", mode), func(t *testing.T) {
			forMethods(t, func(t *testing.T, m string) {
				cfg := testConfig(m)
				cfg.Listen = append(cfg.Listen, netip.MustParseAddrPort("127.0.0.1:0"))
				cfg.AcceptAliases = true
				cfg.ConnectionMatch = mode
				col := newCollector()
				s := startStack(t, cfg, col)
				var ids []uint64
				for i, l := range s.Addrs() {
					c, err := net.Dial("tcp", l.String())
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					write(t, c, sipReq("SIP/2.0/TCP 203.0.113.9:5099;alias"))
					ids = append(ids, col.waitFrames(t, i+1)[i].ConnID)
				}
				want := ids[1] // the newest
				if mode == 1 {
					want = ids[0] // on the first listener's port
				}
				if id, ok := s.Lookup(netip.MustParseAddrPort("127.0.0.1:5099")); !ok || id != want {
					t.Fatalf("Lookup = %d, %v; want %d (connections %v)", id, ok, want, ids)
				}
			})
		})
	}
}

// freePort returns a loopback address with a port nothing listens on now.
func freePort() netip.AddrPort {
	ap, err := testnet.FreePort(false)
	if err != nil {
		panic(err)
	}
	return ap
}

// v2 builds a PROXY protocol v2 header.
func v2(verCmd, fam byte, addrs []byte) []byte {
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	b = append(b, verCmd, fam, byte(len(addrs)>>8), byte(len(addrs)))
	return append(b, addrs...)
}
