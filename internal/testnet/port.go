// Package testnet holds network helpers for tests that start servers in
// other processes or on addresses chosen in advance.
package testnet

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// lowestPort is where FreePort starts looking: above the registered ports
// most daemons use.
const lowestPort = 10000

// FreePort returns a loopback address whose port nothing uses now, for TCP
// and, with udp, for UDP too. It picks below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range): a port the kernel hands out for ":0" may
// go to some other outgoing connection between this check and the bind of
// the server it is meant for, while one below the range is only ever taken
// by an explicit bind. When the range leaves no room below it, the kernel
// chooses.
func FreePort(udp bool) (netip.AddrPort, error) {
	lo := ephemeralLow()
	for range 200 {
		port := 0
		if lo > lowestPort+1000 {
			port = lowestPort + rand.IntN(lo-lowestPort)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		ap := ln.Addr().(*net.TCPAddr).AddrPort()
		if !udp {
			ln.Close()
			return ap, nil
		}
		uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		ln.Close()
		if err == nil {
			uc.Close()
			return ap, nil
		}
	}
	return netip.AddrPort{}, errors.New("testnet: no free loopback port")
}

// ephemeralLow is the first port of the kernel's ephemeral range, or
// Linux's default when it cannot be read.
func ephemeralLow() int {
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}
