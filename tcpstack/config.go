package tcpstack

import (
	"fmt"
	"log/slog"
	"net/netip"
	"time"
)

// Config is the start-up configuration of a Stack. Each field is one
// Kamailio core parameter, with Kamailio's name, default and unit.
type Config struct {
	// Listen holds the addresses to accept TCP on (Kamailio: the tcp: entries
	// of listen=). Port 0 picks a free port; Stack.Addrs reports it. At least
	// one address is required.
	Listen []netip.AddrPort

	// Children is tcp_children: the number of reader workers. Count, default
	// 8 (Kamailio's children default). Start-up only; at least 1.
	Children int

	// RdBufSize is tcp_rd_buf_size, in bytes: the largest message a
	// connection may carry. Kamailio's default is 16384; hepd's is 65536
	// because a capture server must take any HEP3 frame an agent may send, and
	// a HEP3 length is 16 bits (up to 65535). Values are clamped to
	// 512…16777216 as Kamailio does at start-up; negative values are an error.
	//
	// Deliberate difference: a HEP3 frame may be up to RdBufSize bytes.
	// Kamailio's limit is RdBufSize−2 (one byte for a NUL terminator and an
	// off-by-one, spec §1.26/§11.4); hepd keeps no terminator, and with
	// Kamailio's rule the 65536 default would still refuse 65535-byte frames.
	//
	// Changeable at runtime (Runtime.RdBufSize); a change affects only
	// connections accepted afterwards.
	RdBufSize int

	// MaxConnections is tcp_max_connections: the most connections open at
	// once. Count, default 2048. A connection over the limit is accepted and
	// closed at once (the peer sees EOF), counted and logged, as Kamailio
	// does; 0 refuses every connection.
	MaxConnections int

	// ConnectionLifetime is tcp_connection_lifetime: a connection that has
	// received nothing for this long is closed. Default 120 s (Kamailio
	// counts whole seconds; hepd takes any duration). Negative means never.
	// hepd closes on time, without Kamailio's 5–12 s of slack (spec §11.10).
	//
	// Changeable at runtime (Runtime.ConnectionLifetime); as in Kamailio a
	// connection keeps the value it was accepted with.
	ConnectionLifetime time.Duration

	// PollMethod is tcp_poll_method: the readiness mechanism of the acceptor
	// and every worker. One of epoll_lt, epoll_et, poll, select, or none (or
	// empty) for the best available, epoll_lt; case-insensitive. kqueue,
	// /dev/poll and sigio_rt are refused: hepd does not substitute silently.
	PollMethod string
}

// DefaultConfig returns Kamailio's defaults, except RdBufSize (65536, see
// Config.RdBufSize), listening on 0.0.0.0:9060.
func DefaultConfig() Config {
	return Config{
		Listen:             []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), 9060)},
		Children:           8,
		RdBufSize:          65536,
		MaxConnections:     2048,
		ConnectionLifetime: 120 * time.Second,
		PollMethod:         "none",
	}
}

// Limits of tcp_rd_buf_size (Kamailio clamps to these at start-up and refuses
// values outside them at runtime).
const (
	minRdBufSize = 512
	maxRdBufSize = 16 << 20
)

// check validates cfg and applies Kamailio's start-up fix-ups. It returns the
// fixed copy and the resolved poll method.
func (cfg Config) check(log *slog.Logger) (Config, pollMethod, error) {
	if len(cfg.Listen) == 0 {
		return cfg, 0, fmt.Errorf("listen: no TCP address to listen on")
	}
	for _, ap := range cfg.Listen {
		if !ap.IsValid() {
			return cfg, 0, fmt.Errorf("listen: %v is not a valid address and port", ap)
		}
	}
	if cfg.Children < 1 {
		return cfg, 0, fmt.Errorf("tcp_children: %d is not allowed (need at least 1 reader)", cfg.Children)
	}
	if cfg.MaxConnections < 0 {
		return cfg, 0, fmt.Errorf("tcp_max_connections: %d is not allowed (need 0 or more)", cfg.MaxConnections)
	}
	if cfg.RdBufSize < 0 {
		return cfg, 0, fmt.Errorf("tcp_rd_buf_size: %d is not allowed (bytes, %d…%d)", cfg.RdBufSize, minRdBufSize, maxRdBufSize)
	}
	if c := clamp(cfg.RdBufSize, minRdBufSize, maxRdBufSize); c != cfg.RdBufSize {
		log.Warn("tcp_rd_buf_size clamped", "value", cfg.RdBufSize, "used", c)
		cfg.RdBufSize = c
	}
	m, err := parsePollMethod(cfg.PollMethod)
	if err != nil {
		return cfg, 0, err
	}
	return cfg, m, nil
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// Runtime holds the values that can be changed while the stack runs
// (Kamailio's cfg group "tcp"). A Runtime is immutable once published:
// SetRuntime swaps in a new one.
type Runtime struct {
	// RdBufSize is rd_buf_size (tcp_rd_buf_size), bytes, 512…16777216.
	// It applies to connections accepted after the change.
	RdBufSize int
	// ConnectionLifetime is connection_lifetime (tcp_connection_lifetime);
	// negative means never. It applies to connections accepted after the
	// change; existing connections keep theirs, as in Kamailio.
	ConnectionLifetime time.Duration
}

// check refuses out-of-range values; unlike start-up, runtime changes are not
// clamped (Kamailio's cfg framework refuses them too, spec §0.3).
func (r Runtime) check() error {
	if r.RdBufSize < minRdBufSize || r.RdBufSize > maxRdBufSize {
		return fmt.Errorf("rd_buf_size: %d is out of range (bytes, %d…%d)", r.RdBufSize, minRdBufSize, maxRdBufSize)
	}
	return nil
}
