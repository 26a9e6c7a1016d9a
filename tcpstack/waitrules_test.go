package tcpstack

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// The wait and limit rules of spec §9 (tcp_msg_read_timeout,
// tcp_msg_data_timeout, tcp_check_timer, tcp_accept_iplimit), seen from
// outside: a client socket reads EOF, at the time the rule says, or keeps
// its connection. Timeouts are short; the windows are loose at the top
// (a loaded machine is slow to wake up) and exact at the bottom (a rule must
// never fire early).

const (
	waitRule = 400 * time.Millisecond
	// slack is how late a close may be observed.
	slack = 1500 * time.Millisecond
)

// eofAt reports when a read on c ends (EOF, reset, or any data).
func eofAt(c net.Conn) <-chan time.Time {
	ch := make(chan time.Time, 1)
	go func() {
		var b [64]byte
		for {
			n, err := c.Read(b[:])
			if err != nil || n > 2 { // a CRLF pong is not the end
				ch <- time.Now()
				return
			}
		}
	}()
	return ch
}

// closedWithin fails unless ch fires between from+min and from+min+slack.
func closedWithin(t *testing.T, what string, ch <-chan time.Time, from time.Time, min time.Duration) {
	t.Helper()
	select {
	case at := <-ch:
		if d := at.Sub(from); d < min {
			t.Fatalf("%s closed after %v, before its %v were up", what, d, min)
		}
	case <-time.After(time.Until(from.Add(min + slack))):
		t.Fatalf("%s still open %v after %v", what, min+slack, min)
	}
}

// openFor fails if ch fires within d.
func openFor(t *testing.T, what string, ch <-chan time.Time, d time.Duration) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s closed within %v", what, d)
	case <-time.After(d):
	}
}

// trickle writes b one byte every gap until stop is closed or b is sent.
func trickle(c net.Conn, b []byte, gap time.Duration, stop <-chan struct{}) {
	for i := range b {
		if _, err := c.Write(b[i : i+1]); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
	}
}

func readRule(c *Config)  { c.MsgReadTimeout = waitRule; c.MsgDataTimeout = 0 }
func dataRule(c *Config)  { c.MsgDataTimeout = waitRule; c.MsgReadTimeout = 0 }
func bothRules(c *Config) { c.MsgDataTimeout = waitRule; c.MsgReadTimeout = waitRule }

func TestMsgReadTimeout(t *testing.T) {
	f := hep3(60, 'r')
	runParamTests(t, []paramTest{
		{name: "a message trickled one byte at a time is cut tcp_msg_read_timeout after its first byte", mod: readRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				write(t, c, f) // one complete message first: the rule is per message
				col.waitFrames(t, 1)
				eof := eofAt(c)
				stop := make(chan struct{})
				defer close(stop)
				start := time.Now()
				go trickle(c, f, 100*time.Millisecond, stop)
				closedWithin(t, "slowloris connection", eof, start, waitRule)
				eventually(t, "read timeout counted", func() bool {
					st := s.Stats()
					return st.ClosedByReadTimeout == 1 && st.Open == 0 && st.FrameErrors.Truncated == 0
				})
				if n := len(col.snapshot()); n != 1 {
					t.Fatalf("%d frames delivered, want only the complete one", n)
				}
			}},
		{name: "messages each completed within the timeout keep the connection, however long it lives", mod: readRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				eof := eofAt(c)
				// Each frame arrives in two parts, the second 60% of the
				// timeout after the first; and the next frame's first part
				// rides with the previous frame's end, so the clock must
				// restart at each message, not at each connection.
				const frames = 5
				write(t, c, f[:20])
				for i := range frames {
					time.Sleep(waitRule * 6 / 10)
					if i < frames-1 {
						write(t, c, append(append([]byte{}, f[20:]...), f[:20]...))
					} else {
						write(t, c, f[20:])
					}
				}
				col.waitFrames(t, frames)
				openFor(t, "a connection of timely messages", eof, waitRule+200*time.Millisecond)
				if st := s.Stats(); st.ClosedByReadTimeout != 0 || st.Open != 1 {
					t.Fatalf("stats %+v", st.WorkerStats)
				}
			}},
		{name: "a CRLFCRLF ping in pieces is a message too", mod: readRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				eof := eofAt(c)
				start := time.Now()
				write(t, c, []byte("\r\n\r"))
				closedWithin(t, "a connection with a ping cut short", eof, start, waitRule)
				eventually(t, "read timeout counted", func() bool { return s.Stats().ClosedByReadTimeout == 1 })
			}},
		{name: "tcp_msg_read_timeout=0 disables the rule (Kamailio would close at every read)", mod: func(c *Config) { readRule(c); c.MsgReadTimeout = 0 },
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				eof := eofAt(c)
				write(t, c, f[:10])
				openFor(t, "a partial message without the rule", eof, 2*waitRule)
				write(t, c, f[10:])
				col.waitFrames(t, 1)
			}},
	})
}

func TestMsgDataTimeout(t *testing.T) {
	f := hep3(60, 'd')
	runParamTests(t, []paramTest{
		{name: "a silent connection is closed tcp_msg_data_timeout after accept", mod: dataRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				start := time.Now()
				c := dial(t, s)
				closedWithin(t, "silent connection", eofAt(c), start, waitRule)
				eventually(t, "data timeout counted", func() bool {
					st := s.Stats()
					return st.ClosedByDataTimeout == 1 && st.Open == 0
				})
			}},
		{name: "pings do not count as data", mod: dataRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				start := time.Now()
				c := dial(t, s)
				eof := eofAt(c)
				stop := make(chan struct{})
				defer close(stop)
				go func() {
					for {
						if _, err := c.Write(ping); err != nil {
							return
						}
						select {
						case <-stop:
							return
						case <-time.After(50 * time.Millisecond):
						}
					}
				}()
				closedWithin(t, "ping-only connection", eof, start, waitRule)
				eventually(t, "data timeout counted", func() bool {
					st := s.Stats()
					return st.ClosedByDataTimeout == 1 && st.Pings > 0
				})
			}},
		{name: "one complete message within the timeout satisfies it for good", mod: dataRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				c := dial(t, s)
				eof := eofAt(c)
				time.Sleep(waitRule / 2)
				write(t, c, f)
				col.waitFrames(t, 1)
				openFor(t, "a connection that sent a message", eof, 2*waitRule)
				if st := s.Stats(); st.ClosedByDataTimeout != 0 || st.Open != 1 {
					t.Fatalf("stats %+v", st.WorkerStats)
				}
			}},
		{name: "a message that completes late is not delivered", mod: dataRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				start := time.Now()
				c := dial(t, s)
				eof := eofAt(c)
				write(t, c, f[:30])
				closedWithin(t, "connection with a first message cut short", eof, start, waitRule)
				c.Write(f[30:])
				eventually(t, "data timeout counted", func() bool { return s.Stats().ClosedByDataTimeout == 1 })
				if n := len(col.snapshot()); n != 0 {
					t.Fatalf("%d frames delivered", n)
				}
			}},
		{name: "outbound connections are exempt", mod: dataRule,
			run: func(t *testing.T, s *Stack, col *collector) {
				p := newPeer(t, "127.0.0.1:0", 0)
				if _, err := s.Dial(context.Background(), p.addr()); err != nil {
					t.Fatal(err)
				}
				pc := p.accept(t)
				openFor(t, "an outbound connection whose peer is silent", eofAt(pc), 2*waitRule)
				if st := s.Stats(); st.ClosedByDataTimeout != 0 || st.Open != 1 {
					t.Fatalf("stats %+v", st.WorkerStats)
				}
			}},
		{name: "a PROXY header is not a message", mod: func(c *Config) { dataRule(c); c.AcceptHAProxy = true; c.WaitData = 10 * time.Second },
			run: func(t *testing.T, s *Stack, col *collector) {
				start := time.Now()
				c := dial(t, s)
				eof := eofAt(c)
				write(t, c, []byte("PROXY TCP4 192.0.2.7 198.51.100.1 4444 9060\r\n"))
				closedWithin(t, "connection that sent only a PROXY header", eof, start, waitRule)
				eventually(t, "data timeout counted", func() bool { return s.Stats().ClosedByDataTimeout == 1 })
			}},
	})
}

func TestCheckTimerZeroDisablesWaitRules(t *testing.T) {
	runParamTests(t, []paramTest{
		{name: "tcp_check_timer=0 keeps silent and slow connections", mod: func(c *Config) { bothRules(c); c.CheckTimer = 0 },
			run: func(t *testing.T, s *Stack, col *collector) {
				silent, slow := dial(t, s), dial(t, s)
				eofSilent, eofSlow := eofAt(silent), eofAt(slow)
				write(t, slow, hep3(40, 's')[:10])
				openFor(t, "silent connection", eofSilent, 3*waitRule)
				select {
				case <-eofSlow:
					t.Fatal("slow connection closed")
				default:
				}
				if st := s.Stats(); st.ClosedByDataTimeout != 0 || st.ClosedByReadTimeout != 0 || st.Open != 2 {
					t.Fatalf("stats %+v", st.WorkerStats)
				}
				if got := s.GetParams()["tcp_check_timer"]; got != "0" {
					t.Fatalf("tcp_check_timer = %q", got)
				}
			}},
		{name: "tcp_check_timer=-1 is half the shorter rule", mod: bothRules,
			run: func(t *testing.T, s *Stack, col *collector) {
				if got, want := s.GetParams()["tcp_check_timer"], fmtSec(waitRule/2); got != want {
					t.Fatalf("tcp_check_timer = %q, want %q", got, want)
				}
			}},
	})
}

// TestWaitRulesSpareBackpressure: while a worker is blocked in Deliver it
// reads nothing, so peers that keep sending are not slow, the stack is.
// Bytes waiting in the socket when a rule's deadline (or the lifetime, or
// the PROXY wait) passes restart the clock instead of losing the connection
// and what it sent. Regression: the lifetime and the PROXY wait used to
// close such connections as soon as Deliver returned.
func TestWaitRulesSpareBackpressure(t *testing.T) {
	f := hep3(80, 'b')
	for _, proxied := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "tcp_accept_haproxy"}[proxied], func(t *testing.T) {
			forMethods(t, func(t *testing.T, m string) {
				cfg := testConfig(m)
				cfg.Children = 1 // every connection shares the blocked worker
				bothRules(&cfg)
				cfg.ConnectionLifetime = 2 * waitRule
				cfg.AcceptHAProxy = proxied
				cfg.WaitData = waitRule
				col := newCollector()
				s := startStack(t, cfg, col)
				var header []byte
				if proxied {
					header = []byte("PROXY TCP4 192.0.2.7 198.51.100.1 4444 9060\r\n")
				}
				open := func() net.Conn {
					c := dial(t, s)
					write(t, c, header)
					return c
				}

				half := open() // a message in progress when the worker blocks
				write(t, half, f[:30])
				eventually(t, "first part read", func() bool { return s.Stats().Bytes >= uint64(len(header)+30) })
				idle := open() // idle for the lifetime while the worker blocks
				write(t, idle, f)
				col.waitFrames(t, 1)

				release := col.hold()
				trigger := open()
				write(t, trigger, f)
				<-col.blocked
				late := open() // accepted while the worker is blocked: its PROXY header waits unread
				write(t, half, f[30:])
				write(t, idle, f)
				write(t, late, f)
				write(t, trigger, f)
				time.Sleep(4 * waitRule) // every deadline passes while Deliver blocks
				release()

				col.waitFrames(t, 6)
				eventually(t, "stats of the round after the stall", func() bool { return s.Stats().Frames == 6 })
				st := s.Stats()
				if st.ClosedByReadTimeout != 0 || st.ClosedByDataTimeout != 0 || st.ClosedByLifetime != 0 || st.RejectedProxy != 0 || st.Open != 4 {
					t.Fatalf("closed connections that kept sending: %+v, rejected by tcp_accept_haproxy %d", st.WorkerStats, st.RejectedProxy)
				}
				// Once the peers do go quiet, the lifetime applies again.
				eventually(t, "lifetime closes", func() bool { return s.Stats().ClosedByLifetime == 4 })
			})
		})
	}
}

func TestAcceptIPLimit(t *testing.T) {
	f := hep3(40, 'i')
	from := func(t *testing.T, s *Stack, ip string) *net.TCPConn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", s.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.TCPConn)
	}
	runParamTests(t, []paramTest{
		{name: "tcp_accept_iplimit: one source IP over the limit is accepted and closed, others are not", mod: func(c *Config) { c.AcceptIPLimit = 3 },
			run: func(t *testing.T, s *Stack, col *collector) {
				var mine []*net.TCPConn
				for range 3 {
					c := from(t, s, "127.0.0.1")
					write(t, c, f)
					mine = append(mine, c)
				}
				col.waitFrames(t, 3)
				over := from(t, s, "127.0.0.1")
				expectEOF(t, over, 5*time.Second)
				if st := s.Stats(); st.RejectedIPLimit != 1 || st.Rejected != 1 {
					t.Fatalf("rejections %+v", st)
				}
				other := from(t, s, "127.0.0.2")
				write(t, other, f)
				col.waitFrames(t, 4)

				mine[0].Close()
				eventually(t, "slot freed", func() bool { return s.Stats().Open == 3 })
				again := from(t, s, "127.0.0.1")
				write(t, again, f)
				col.waitFrames(t, 5)
				if st := s.Stats(); st.RejectedIPLimit != 1 || st.Open != 4 {
					t.Fatalf("stats %+v", st)
				}
			}},
		{name: "tcp_accept_iplimit counts the socket's peer, not the PROXY source", mod: func(c *Config) {
			c.AcceptIPLimit = 2
			c.AcceptHAProxy = true
		},
			run: func(t *testing.T, s *Stack, col *collector) {
				for i := range 2 {
					c := from(t, s, "127.0.0.1")
					write(t, c, append(fmt.Appendf(nil, "PROXY TCP4 192.0.2.%d 198.51.100.1 4444 9060\r\n", i+1), f...))
				}
				col.waitFrames(t, 2)
				over := from(t, s, "127.0.0.1")
				over.Write(fmt.Appendf(nil, "PROXY TCP4 192.0.2.9 198.51.100.1 4444 9060\r\n"))
				expectEOF(t, over, 5*time.Second)
				if st := s.Stats(); st.RejectedIPLimit != 1 {
					t.Fatalf("rejections %+v", st)
				}
			}},
		{name: "tcp_accept_iplimit=0 is no limit", mod: func(c *Config) { c.AcceptIPLimit = 0 },
			run: func(t *testing.T, s *Stack, col *collector) {
				for range 20 {
					write(t, from(t, s, "127.0.0.1"), f)
				}
				col.waitFrames(t, 20)
				if st := s.Stats(); st.Rejected != 0 {
					t.Fatalf("rejections %+v", st)
				}
			}},
		{name: "outbound connections are not counted", mod: func(c *Config) { c.AcceptIPLimit = 1 },
			run: func(t *testing.T, s *Stack, col *collector) {
				p := newPeer(t, "127.0.0.1:0", 0)
				if _, err := s.Dial(context.Background(), p.addr()); err != nil {
					t.Fatal(err)
				}
				p.accept(t)
				c := from(t, s, "127.0.0.1")
				write(t, c, f)
				col.waitFrames(t, 1)
			}},
	})
}

// TestIPCountsLeakNothing: after many accepts and closes, rejections
// included, the per-IP table is empty (no slot is leaked, unlike
// Kamailio's tcp_accept_unique, spec §11.6).
func TestIPCountsLeakNothing(t *testing.T) {
	const n = 50
	cfg := testConfig("epoll_lt")
	cfg.AcceptIPLimit = 2
	s := startStack(t, cfg, newCollector())
	for range n {
		if c, err := net.Dial("tcp", s.Addrs()[0].String()); err == nil {
			c.Close()
		}
	}
	eventually(t, "every connection accepted or refused, and closed", func() bool {
		st := s.Stats()
		return st.Accepted+st.RejectedIPLimit == n && st.Open == 0
	})
	s.tbl.mu.RLock()
	left := len(s.tbl.perIP)
	s.tbl.mu.RUnlock()
	if left != 0 {
		t.Fatalf("per-IP table holds %d addresses with no connection", left)
	}
}
