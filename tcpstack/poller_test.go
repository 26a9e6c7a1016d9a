package tcpstack

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
}

func newTestPoller(t *testing.T, name string) poller {
	t.Helper()
	m, err := parsePollMethod(name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPoller(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.close() })
	return p
}

// TestPoller runs the same behaviours over every poller implementation.
func TestPoller(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, p poller)
	}{
		{"wait times out with nothing ready", func(t *testing.T, p poller) {
			a, _ := socketPair(t)
			if err := p.add(a, wantRead); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			n, err := p.wait(make([]event, 4), 20*time.Millisecond)
			if err != nil || n != 0 {
				t.Fatalf("wait = %d, %v", n, err)
			}
			if d := time.Since(start); d < 20*time.Millisecond {
				t.Fatalf("wait returned after %v, before its timeout", d)
			}
		}},
		{"readable after the peer writes", func(t *testing.T, p poller) {
			a, b := socketPair(t)
			p.add(a, wantRead)
			unix.Write(b, []byte("x"))
			ev := make([]event, 4)
			n, err := p.wait(ev, time.Second)
			if err != nil || n != 1 || int(ev[0].fd) != a || ev[0].ready&readyRead == 0 {
				t.Fatalf("wait = %d %+v, %v", n, ev[:n], err)
			}
		}},
		{"level-triggered reports again, edge-triggered only on new data", func(t *testing.T, p poller) {
			a, b := socketPair(t)
			p.add(a, wantRead)
			unix.Write(b, []byte("x"))
			ev := make([]event, 4)
			p.wait(ev, time.Second)
			n, _ := p.wait(ev, 10*time.Millisecond)
			if want := map[bool]int{true: 0, false: 1}[p.edge()]; n != want {
				t.Fatalf("second wait reported %d events, want %d (edge %v)", n, want, p.edge())
			}
		}},
		{"modify to write interest", func(t *testing.T, p poller) {
			a, _ := socketPair(t)
			p.add(a, wantRead)
			if err := p.modify(a, wantWrite); err != nil {
				t.Fatal(err)
			}
			ev := make([]event, 4)
			n, err := p.wait(ev, time.Second)
			if err != nil || n != 1 || ev[0].ready&readyWrite == 0 {
				t.Fatalf("wait = %d %+v, %v", n, ev[:n], err)
			}
		}},
		{"removed fd is not reported", func(t *testing.T, p poller) {
			a, b := socketPair(t)
			p.add(a, wantRead)
			if err := p.remove(a); err != nil {
				t.Fatal(err)
			}
			unix.Write(b, []byte("x"))
			if n, _ := p.wait(make([]event, 4), 10*time.Millisecond); n != 0 {
				t.Fatalf("wait reported %d events", n)
			}
		}},
		{"hang-up is reported", func(t *testing.T, p poller) {
			a, b := socketPair(t)
			p.add(a, wantRead)
			unix.Close(b)
			ev := make([]event, 4)
			n, err := p.wait(ev, time.Second)
			if err != nil || n != 1 || ev[0].ready&(readyRead|readyHup) == 0 {
				t.Fatalf("wait = %d %+v, %v", n, ev[:n], err)
			}
		}},
		{"more ready fds than events: none starves", func(t *testing.T, p poller) {
			seen := map[int]bool{}
			var fds []int
			for range 5 {
				a, b := socketPair(t)
				p.add(a, wantRead)
				unix.Write(b, []byte("x"))
				fds = append(fds, a)
			}
			ev := make([]event, 2)
			for range 5 {
				if len(seen) == len(fds) {
					break
				}
				n, err := p.wait(ev, time.Second)
				if err != nil || n == 0 || n > 2 {
					t.Fatalf("wait = %d, %v", n, err)
				}
				for _, e := range ev[:n] {
					seen[int(e.fd)] = true
					if p.edge() {
						// Consume, so the edge poller moves on to the others.
						var buf [1]byte
						unix.Read(int(e.fd), buf[:])
					}
				}
			}
			for _, fd := range fds {
				if !seen[fd] {
					t.Fatalf("fd %d never reported in 5 waits", fd)
				}
			}
		}},
	}
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.run(t, newTestPoller(t, m)) })
			}
		})
	}
}

func TestSelectRefusesFDAboveSetSize(t *testing.T) {
	p := newSelectPoller()
	err := p.add(fdSetSize, wantRead)
	if err == nil || !strings.Contains(err.Error(), "FD_SETSIZE") {
		t.Fatalf("add(%d) = %v, want FD_SETSIZE error", fdSetSize, err)
	}
}
