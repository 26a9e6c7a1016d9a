package tcpstack

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
)

// TestFrameNamesItsListener: every frame carries the index of the listener
// that accepted its connection, even when a PROXY header names another
// destination (Local follows the header; Listener does not).
func TestFrameNamesItsListener(t *testing.T) {
	_, frames := readStream(t, kamailioStream)
	cfg := testConfig("none")
	cfg.Listen = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0"), netip.MustParseAddrPort("127.0.0.1:0")}
	cfg.AcceptHAProxy = true
	col := newCollector()
	s := startStack(t, cfg, col)
	addrs := s.Addrs()
	for i, a := range addrs {
		c, err := net.Dial("tcp", a.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The header claims the other listener as destination.
		other := addrs[1-i]
		write(t, c, fmt.Appendf(nil, "PROXY TCP4 192.0.2.%d %v %d %d\r\n", i+1, other.Addr(), 40000+i, other.Port()))
		write(t, c, frames[0])
	}
	got := col.waitFrames(t, 2)
	seen := map[int]bool{}
	for _, f := range got {
		i := int(f.Remote.Port()) - 40000
		if f.Listener != i {
			t.Errorf("frame from %v: Listener %d, want %d (the accepting socket)", f.Remote, f.Listener, i)
		}
		if f.Local != addrs[1-i] {
			t.Errorf("frame from %v: Local %v, want the PROXY destination %v", f.Remote, f.Local, addrs[1-i])
		}
		seen[f.Listener] = true
	}
	if len(seen) != 2 {
		t.Errorf("listeners seen: %v", seen)
	}
}
