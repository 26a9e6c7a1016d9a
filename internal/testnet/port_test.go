package testnet

import (
	"net"
	"testing"
)

func TestFreePort(t *testing.T) {
	lo := ephemeralLow()
	for _, udp := range []bool{false, true} {
		ap, err := FreePort(udp)
		if err != nil {
			t.Fatal(err)
		}
		if p := int(ap.Port()); lo > lowestPort+1000 && (p < lowestPort || p >= lo) {
			t.Errorf("port %d outside %d…%d", p, lowestPort, lo-1)
		}
		ln, err := net.Listen("tcp", ap.String())
		if err != nil {
			t.Fatalf("TCP %v not free: %v", ap, err)
		}
		ln.Close()
		if udp {
			uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
			if err != nil {
				t.Fatalf("UDP %v not free: %v", ap, err)
			}
			uc.Close()
		}
	}
}
