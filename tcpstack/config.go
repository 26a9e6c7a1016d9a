package tcpstack

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"time"
)

// Config is the start-up configuration of a Stack. Each field is one
// Kamailio core parameter, with Kamailio's name, default and unit, and
// whether it can be changed while the stack runs (Runtime, Stack.SetParam).
//
// disable_tcp is not here: a caller that is told disable_tcp=yes does not
// call New at all (hepd's main skips the stack), so no socket is opened and
// Dial does not exist.
type Config struct {
	// Listen holds the addresses to accept TCP on (Kamailio: the tcp: entries
	// of listen=). Port 0 picks a free port; Stack.Addrs reports it. At least
	// one address is required.
	Listen []netip.AddrPort

	// Children is tcp_children: the number of reader workers. Count, default
	// 8 (Kamailio's children default). Runtime: no. At least 1.
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
	// Runtime: yes (rd_buf_size); a change affects only connections made
	// afterwards.
	RdBufSize int

	// MaxConnections is tcp_max_connections: the most connections open at
	// once, inbound and outbound together. Count, default 2048. A connection
	// over the limit is accepted and closed at once (the peer sees EOF),
	// counted and logged once per burst, as Kamailio does; 0 refuses every
	// connection. Runtime: yes (max_connections), but never above this
	// start-up value: a larger runtime value is lowered to it, as Kamailio's
	// fix_max_conns does.
	MaxConnections int

	// ConnectionLifetime is tcp_connection_lifetime: a connection with no
	// activity (a read, or a send attempt) for this long is closed. Default
	// 120 s (Kamailio counts whole seconds; hepd takes any duration).
	// Negative means never. hepd closes on time, without Kamailio's 5–12 s of
	// slack (spec §11.10). Runtime: yes (connection_lifetime); as in Kamailio
	// a connection keeps the value it was made with while it only receives,
	// and a send re-arms it with the value configured at the send.
	ConnectionLifetime time.Duration

	// PollMethod is tcp_poll_method: the readiness mechanism of the acceptor
	// and every worker. One of epoll_lt, epoll_et, poll, select, or none (or
	// empty) for the best available, epoll_lt; case-insensitive. kqueue,
	// /dev/poll and sigio_rt are refused: hepd does not substitute silently.
	// Runtime: no.
	PollMethod string

	// AcceptAliases is tcp_accept_aliases: a SIP request whose top Via has an
	// "alias" parameter registers (the connection's remote IP, the Via's
	// sent-by port) as another address of the connection, for Lookup and
	// Dial. Only natively received SIP counts, never SIP inside HEP3 (spec
	// §11.13). Default no. Runtime: yes (accept_aliases), next message.
	AcceptAliases bool

	// AcceptHAProxy is tcp_accept_haproxy: every accepted connection must
	// begin with a PROXY protocol v1 or v2 header within WaitData, or it is
	// closed and counted (Stats.RejectedProxy). hepd keeps the documented
	// promise rather than Kamailio's code, which lets non-PROXY connections
	// through (spec §4, §11.7). Default no. Runtime: no.
	AcceptHAProxy bool

	// AcceptHEP3 is tcp_accept_hep3: at each message boundary a stream may
	// carry a HEP3 frame ("HEP3" + 16-bit total length) instead of SIP.
	// Kamailio's default is no; hepd's is yes, being a capture server. Unlike
	// Kamailio it does not need AcceptNoCL (spec §11.1). Runtime: no.
	AcceptHEP3 bool

	// AcceptNoCL is tcp_accept_no_cl: a SIP message whose headers end
	// without a usable Content-Length ends at the blank line (yes) or closes
	// the connection (no). Default no. Runtime: yes (accept_no_cl).
	AcceptNoCL bool

	// AcceptIPLimit is tcp_accept_iplimit: the most inbound connections one
	// source IP may hold open at once. The IP is the socket's peer, before
	// any PROXY header (a load balancer counts as one source, as in
	// Kamailio). A connection over the limit is accepted and closed at once,
	// counted (Stats.RejectedIPLimit) and logged once per burst. Count,
	// default 1024. 0 means no limit (Kamailio's meaning of 0 is not
	// documented; a limit of none per IP is what 0 can usefully say:
	// tcp_max_connections=0 already refuses everything). Runtime: no (a core
	// global in Kamailio, outside the cfg framework).
	AcceptIPLimit int

	// AcceptUnique is tcp_accept_unique: a new inbound connection whose
	// (remote ip:port, local ip:port) — after a PROXY header, the proxied
	// ones — equals a live connection's is closed and counted
	// (Stats.RejectedUnique); the older one stays. Kamailio compares swapped
	// addresses and leaks a tcp_max_connections slot per rejection; hepd
	// implements the intent (spec §1.6, §11.6). Default no. Runtime: no.
	AcceptUnique bool

	// Async is tcp_async (alias tcp_buf_write): Write never blocks; what the
	// socket does not take is queued (ConnWQMax, WQMax, SendTimeout). With
	// no, Write blocks its caller until everything is written or SendTimeout
	// passes, and the queue limits are unused (spec §1.7). Default yes.
	// Runtime: no (read-only in Kamailio).
	Async bool

	// CloneRcvBuf is tcp_clone_rcvbuf: with yes, the frames handed to
	// Sink.Deliver are private copies the sink may keep or modify after
	// Deliver returns; with no they are views into the stack's buffers, valid
	// until Deliver returns (spec §6.2). Default no. Runtime: no.
	CloneRcvBuf bool

	// CheckTimer is tcp_check_timer: whether the two wait rules below,
	// MsgReadTimeout and MsgDataTimeout, are enforced. Kamailio runs a sweep
	// every tcp_check_timer seconds, so a connection is closed up to that
	// much late; hepd gives each connection its own deadline in its worker's
	// timer heap, so the rules fire on time and the period only switches them
	// on (> 0) or off (0: neither rule is applied, as in Kamailio, and hepd
	// also skips the check Kamailio makes at each read, see MsgReadTimeout).
	// Negative (the default, -1) means Kamailio's default: min(MsgReadTimeout,
	// MsgDataTimeout)/2 of the rules that are on (10 s with their defaults),
	// resolved at start-up. Runtime: no.
	CheckTimer time.Duration

	// ConnectionMatch is tcp_connection_match, 0 or 1: how Dial and Lookup
	// choose among live connections to an address. 0: the connection
	// registered most recently for the address (remote address or alias),
	// inbound or outbound. 1: first one whose local port is the port hepd
	// sends from (the first listener of the family), then as 0. hepd speaks
	// TCP only, so Kamailio's protocol check has nothing to compare.
	// Default 0. Runtime: no.
	ConnectionMatch int

	// ConnectTimeout is tcp_connect_timeout: how long Dial waits for a
	// connect. Default 10 s; negative means the default; above 134217727 s
	// it is clamped. Runtime: yes (connect_timeout), for later connects.
	ConnectTimeout time.Duration

	// ConnWQMax is tcp_conn_wq_max: bytes a connection's write queue may hold
	// (with Async). A Write that would exceed it fails and the connection is
	// closed (Stats.ClosedByQueue). Default 32768. Runtime: yes
	// (conn_wq_max, 0…1048576).
	ConnWQMax int

	// CRLFPing is tcp_crlf_ping: CRLFCRLF at a message boundary is a
	// keep-alive ping answered with CRLF on the same connection; with no it
	// is skipped silently (as a lone CRLF always is). Default yes. Runtime:
	// yes (crlf_ping).
	CRLFPing bool

	// DeferAccept is tcp_defer_accept, in seconds: TCP_DEFER_ACCEPT on the
	// listeners, so the kernel hands a connection over only once it carries
	// data (or after about this long). Default 0 (off). Runtime: no.
	DeferAccept int

	// DelayedAck is tcp_delayed_ack: TCP_QUICKACK=0 on outbound sockets
	// before connect, so the handshake's last ACK rides on the first data.
	// Default yes. Runtime: yes (delayed_ack), for later connects.
	DelayedAck bool

	// FDCache is tcp_fd_cache: whether a Write from outside the worker that
	// owns the connection writes on the socket itself (yes) or hands the
	// bytes to the owning worker, which writes them (no). Kamailio's cache of
	// duplicated descriptors has no other meaning in one process. Default
	// yes. Runtime: no (read-only in Kamailio).
	FDCache bool

	// KeepAlive is tcp_keepalive: SO_KEEPALIVE on listeners (so on accepted
	// sockets) and outbound sockets. Forced on at start-up when KeepIdle,
	// KeepIntvl or KeepCnt is set. Default yes. Runtime: yes (keepalive).
	KeepAlive bool
	// KeepCnt is tcp_keepcnt: TCP_KEEPCNT, unanswered probes before the
	// kernel drops the connection. 0 leaves the kernel's (9). Linux allows
	// 1…127. Runtime: yes (keepcnt).
	KeepCnt int
	// KeepIdle is tcp_keepidle, seconds: TCP_KEEPIDLE, idle time before the
	// first probe. 0 leaves the kernel's (7200). Linux allows 1…32767.
	// Runtime: yes (keepidle).
	KeepIdle int
	// KeepIntvl is tcp_keepintvl, seconds: TCP_KEEPINTVL, between probes. 0
	// leaves the kernel's (75). Linux allows 1…32767. Runtime: yes
	// (keepintvl).
	KeepIntvl int

	// Linger2 is tcp_linger2, seconds: TCP_LINGER2, how long a closed socket
	// may stay in FIN_WAIT2. 0 leaves the kernel's tcp_fin_timeout. Linux
	// caps it at 120, so larger values are refused. Runtime: yes (linger2).
	Linger2 int

	// MsgDataTimeout is tcp_msg_data_timeout: an accepted connection must
	// deliver one complete message (SIP or HEP3; CRLF pings and a PROXY
	// header do not count) within this long after accept, or it is closed
	// (Stats.ClosedByDataTimeout, logged once per burst). This is what cuts
	// connections that connect and stay silent, or only ping. Outbound
	// connections (Dial) are exempt. Default 20 s; 0 disables the rule.
	// Runtime: no (a core global in Kamailio).
	//
	// Time this connection's worker spends blocked in Sink.Deliver is not
	// the peer's fault: when the deadline passes while the socket still holds
	// unread bytes, the clock restarts instead (the same holds for
	// MsgReadTimeout, ConnectionLifetime and WaitData), so backpressure never
	// closes a connection that kept sending.
	MsgDataTimeout time.Duration

	// MsgReadTimeout is tcp_msg_read_timeout: a message (SIP, HEP3, or a
	// CRLFCRLF ping in pieces) must be complete within this long of the read
	// that brought its first bytes, or the connection is closed
	// (Stats.ClosedByReadTimeout, logged once per burst). This is what cuts
	// slowloris peers that trickle a message byte by byte. Default 20 s.
	// Kamailio also checks at each read and, doing so, closes on every read
	// when the value is 0 (spec §9); hepd checks only at the deadline (a
	// message whose last byte was read before it is complete in time), and 0
	// disables the rule. Runtime: no (a core global in Kamailio).
	MsgReadTimeout time.Duration

	// NoConnect is tcp_no_connect: Dial refuses to open new connections
	// (reusing a live one still works). Default no. Runtime: yes
	// (no_connect), at once.
	NoConnect bool

	// ReusePort is tcp_reuse_port: SO_REUSEPORT on the listeners, so several
	// processes can bind the same port, and on outbound sockets, which are
	// then bound to the listening address and port of their family before
	// connecting (falling back to an ephemeral port when that bind fails).
	// Default no. Runtime: yes (reuse_port), for later connects.
	ReusePort bool

	// ScriptMode is tcp_script_mode; only bit 0 matters. When a Sink that
	// implements CheckedSink reports that processing a frame failed, an even
	// value closes the connection (Stats.ClosedByProcessing) and an odd one
	// keeps it (Stats.ProcessingErrors counts both). HEP3 frames follow the
	// same rule as SIP (Kamailio always closes on HEP3, spec §11.5). Framing
	// errors always close. Default 0. Runtime: no.
	ScriptMode int

	// SendTimeout is tcp_send_timeout: a connection whose queued data makes
	// no progress for this long is closed (Stats.ClosedBySendTimeout); with
	// Async=no it bounds a blocking Write. It is also TCP_USER_TIMEOUT on
	// listeners (inherited by accepted sockets) and outbound sockets (spec
	// §11.12). Default 10 s; negative means the default; 0 leaves
	// TCP_USER_TIMEOUT unset and fails a queued write at once. Runtime: yes
	// (send_timeout), for later queues and sockets.
	SendTimeout time.Duration

	// SourceIPv4 and SourceIPv6 are tcp_source_ipv4 / tcp_source_ipv6: the
	// source address Dial binds outbound connections of that family to. When
	// the bind fails a warning is logged and the kernel chooses, as in
	// Kamailio. Unset by default. Runtime: no.
	SourceIPv4 netip.Addr
	SourceIPv6 netip.Addr

	// SynCnt is tcp_syncnt: TCP_SYNCNT on listeners (the SYN-ACK retries,
	// which also bound DeferAccept) and outbound sockets (SYN retries). 0
	// leaves the kernel's. Linux allows 1…127. Runtime: yes (syncnt), for
	// later sockets.
	SynCnt int

	// WaitData is tcp_wait_data: with AcceptHAProxy, how long a new
	// connection has to deliver its PROXY header. Default 5000 ms. The wait
	// is a per-connection deadline: it never delays other connections (spec
	// §11.7). Runtime: yes (wait_data_ms, 0…7200000 ms).
	WaitData time.Duration

	// WQBlkSize is tcp_wq_blk_size, bytes: write queues grow in blocks of at
	// least this size (Stats.WriteQueueBlocks counts them). Default 2100,
	// clamped to 1…65535. Runtime: yes (wq_blk_size), for new blocks.
	WQBlkSize int

	// WQMax is tcp_wq_max: bytes all write queues together may hold; the
	// connection whose Write would exceed it is closed
	// (Stats.ClosedByQueue). Default 10485760. Runtime: yes (wq_max,
	// 0…1073741824).
	WQMax int
}

// DefaultConfig returns Kamailio's defaults, except RdBufSize (65536) and
// AcceptHEP3 (yes), listening on 0.0.0.0:9060.
func DefaultConfig() Config {
	return Config{
		Listen:             []netip.AddrPort{netip.AddrPortFrom(netip.IPv4Unspecified(), 9060)},
		Children:           8,
		RdBufSize:          65536,
		MaxConnections:     2048,
		ConnectionLifetime: 120 * time.Second,
		PollMethod:         "none",
		AcceptHEP3:         true,
		AcceptIPLimit:      1024,
		CheckTimer:         -1,
		MsgDataTimeout:     20 * time.Second,
		MsgReadTimeout:     20 * time.Second,
		Async:              true,
		ConnectTimeout:     10 * time.Second,
		ConnWQMax:          32 << 10,
		CRLFPing:           true,
		DelayedAck:         true,
		FDCache:            true,
		KeepAlive:          true,
		SendTimeout:        10 * time.Second,
		WaitData:           5000 * time.Millisecond,
		WQBlkSize:          2100,
		WQMax:              10 << 20,
	}
}

// Limits from Kamailio's tcp_options.c and cfg table (spec §0.2, §0.3), and
// what Linux can honour.
const (
	minRdBufSize    = 512
	maxRdBufSize    = 16 << 20
	maxWQBlkSize    = 65535
	maxConnWQMax    = 1 << 20
	maxWQMax        = 1 << 30
	maxWaitData     = 7200000 * time.Millisecond
	maxTimeout      = 134217727 * time.Second // 2³¹−1 ticks of 1/16 s
	maxLinuxKeep    = 32767                   // TCP_KEEPIDLE, TCP_KEEPINTVL
	maxLinuxCnt     = 127                     // TCP_KEEPCNT, TCP_SYNCNT
	maxLinuxLinger2 = 120                     // TCP_FIN_TIMEOUT_MAX
	maxKamKeep      = 86400                   // keepidle, keepintvl at runtime
	maxKamCnt       = 1024                    // keepcnt, syncnt at runtime
	maxKamLinger2   = 3600
	maxDeferAccept  = 3600
)

// check validates cfg and applies Kamailio's start-up fix-ups. It returns the
// fixed copy and the resolved poll method.
func (cfg Config) check(log *slog.Logger) (Config, pollMethod, error) {
	if len(cfg.Listen) == 0 {
		return cfg, 0, fmt.Errorf("listen: no TCP address to listen on")
	}
	if len(cfg.Listen) > math.MaxInt16 {
		return cfg, 0, fmt.Errorf("listen: %d addresses, at most %d", len(cfg.Listen), math.MaxInt16)
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
	if cfg.WQBlkSize < 0 {
		return cfg, 0, fmt.Errorf("tcp_wq_blk_size: %d is not allowed (bytes, 1…%d)", cfg.WQBlkSize, maxWQBlkSize)
	}
	if c := clamp(cfg.WQBlkSize, 1, maxWQBlkSize); c != cfg.WQBlkSize {
		log.Warn("tcp_wq_blk_size clamped", "value", cfg.WQBlkSize, "used", c)
		cfg.WQBlkSize = c
	}
	// Kamailio's fix_timeout: negative means the default, too large is
	// lowered with a warning. (A negative lifetime means never.)
	cfg.ConnectTimeout = fixTimeout(log, "tcp_connect_timeout", cfg.ConnectTimeout, 10*time.Second)
	cfg.SendTimeout = fixTimeout(log, "tcp_send_timeout", cfg.SendTimeout, 10*time.Second)
	if cfg.ConnectionLifetime > maxTimeout {
		log.Warn("tcp_connection_lifetime lowered to the maximum", "value", cfg.ConnectionLifetime, "used", maxTimeout)
		cfg.ConnectionLifetime = maxTimeout
	}
	if cfg.WaitData < 0 || cfg.WaitData > maxWaitData {
		return cfg, 0, fmt.Errorf("tcp_wait_data: %v is not allowed (0…%d ms)", cfg.WaitData, maxWaitData.Milliseconds())
	}
	if cfg.ConnWQMax < 0 {
		return cfg, 0, fmt.Errorf("tcp_conn_wq_max: %d is not allowed (bytes, 0 or more)", cfg.ConnWQMax)
	}
	if cfg.WQMax < 0 {
		return cfg, 0, fmt.Errorf("tcp_wq_max: %d is not allowed (bytes, 0 or more)", cfg.WQMax)
	}
	if cfg.AcceptIPLimit < 0 {
		return cfg, 0, fmt.Errorf("tcp_accept_iplimit: %d is not allowed (connections per source IP, 0 for no limit)", cfg.AcceptIPLimit)
	}
	if cfg.MsgReadTimeout < 0 {
		return cfg, 0, fmt.Errorf("tcp_msg_read_timeout: %v is not allowed (seconds, 0 disables)", cfg.MsgReadTimeout)
	}
	if cfg.MsgDataTimeout < 0 {
		return cfg, 0, fmt.Errorf("tcp_msg_data_timeout: %v is not allowed (seconds, 0 disables)", cfg.MsgDataTimeout)
	}
	cfg.MsgReadTimeout = fixTimeout(log, "tcp_msg_read_timeout", cfg.MsgReadTimeout, 0)
	cfg.MsgDataTimeout = fixTimeout(log, "tcp_msg_data_timeout", cfg.MsgDataTimeout, 0)
	cfg.CheckTimer = fixTimeout(log, "tcp_check_timer", cfg.checkPeriod(), 0)
	if cfg.ConnectionMatch != 0 && cfg.ConnectionMatch != 1 {
		return cfg, 0, fmt.Errorf("tcp_connection_match: %d is not allowed (0 or 1)", cfg.ConnectionMatch)
	}
	if cfg.DeferAccept < 0 || cfg.DeferAccept > maxDeferAccept {
		return cfg, 0, fmt.Errorf("tcp_defer_accept: %d is not allowed (seconds, 0…%d)", cfg.DeferAccept, maxDeferAccept)
	}
	if err := checkSockOpts(cfg.KeepIdle, cfg.KeepIntvl, cfg.KeepCnt, cfg.Linger2, cfg.SynCnt); err != nil {
		return cfg, 0, err
	}
	if cfg.KeepIdle != 0 || cfg.KeepIntvl != 0 || cfg.KeepCnt != 0 {
		cfg.KeepAlive = true // Kamailio forces it on at start-up (spec §0.2)
	}
	if a := cfg.SourceIPv4; a.IsValid() && !a.Is4() {
		return cfg, 0, fmt.Errorf("tcp_source_ipv4: %v is not an IPv4 address", a)
	}
	if a := cfg.SourceIPv6; a.IsValid() && (!a.Is6() || a.Is4In6()) {
		return cfg, 0, fmt.Errorf("tcp_source_ipv6: %v is not an IPv6 address", a)
	}
	m, err := parsePollMethod(cfg.PollMethod)
	if err != nil {
		return cfg, 0, err
	}
	return cfg, m, nil
}

// checkSockOpts refuses socket option values Linux cannot honour (Kamailio
// would log a warning and leave the option unset).
func checkSockOpts(idle, intvl, cnt, linger2, syncnt int) error {
	switch {
	case idle < 0 || idle > maxLinuxKeep:
		return fmt.Errorf("tcp_keepidle: %d is not allowed (seconds, 0 for the kernel's, or 1…%d on linux)", idle, maxLinuxKeep)
	case intvl < 0 || intvl > maxLinuxKeep:
		return fmt.Errorf("tcp_keepintvl: %d is not allowed (seconds, 0 for the kernel's, or 1…%d on linux)", intvl, maxLinuxKeep)
	case cnt < 0 || cnt > maxLinuxCnt:
		return fmt.Errorf("tcp_keepcnt: %d is not allowed (0 for the kernel's, or 1…%d on linux)", cnt, maxLinuxCnt)
	case linger2 < 0 || linger2 > maxLinuxLinger2:
		return fmt.Errorf("tcp_linger2: %d is not allowed (seconds, 0 for the kernel's, or 1…%d: linux caps FIN_WAIT2 at %d s)", linger2, maxLinuxLinger2, maxLinuxLinger2)
	case syncnt < 0 || syncnt > maxLinuxCnt:
		return fmt.Errorf("tcp_syncnt: %d is not allowed (0 for the kernel's, or 1…%d on linux)", syncnt, maxLinuxCnt)
	}
	return nil
}

func fixTimeout(log *slog.Logger, name string, d, def time.Duration) time.Duration {
	switch {
	case d < 0:
		return def
	case d > maxTimeout:
		log.Warn(name+" lowered to the maximum", "value", d, "used", maxTimeout)
		return maxTimeout
	}
	return d
}

// checkPeriod resolves tcp_check_timer: a negative value means Kamailio's
// default, half the shorter of the wait rules that are on.
func (cfg *Config) checkPeriod() time.Duration {
	if cfg.CheckTimer >= 0 {
		return cfg.CheckTimer
	}
	var shortest time.Duration
	for _, d := range []time.Duration{cfg.MsgReadTimeout, cfg.MsgDataTimeout} {
		if d > 0 && (shortest == 0 || d < shortest) {
			shortest = d
		}
	}
	if shortest == 0 {
		return 0
	}
	// Kamailio's whole seconds round 1/2 s down to 0, turning the rules off;
	// hepd's durations never do.
	return max(shortest/2, time.Nanosecond)
}

// waitRules returns the tcp_msg_read_timeout and tcp_msg_data_timeout in
// force: 0 for a rule that is off, both 0 when tcp_check_timer is.
func (cfg *Config) waitRules() (read, data time.Duration) {
	if cfg.checkPeriod() <= 0 {
		return 0, 0
	}
	return cfg.MsgReadTimeout, cfg.MsgDataTimeout
}

func clamp(v, lo, hi int) int {
	return max(lo, min(v, hi))
}

// Runtime holds the values that can be changed while the stack runs
// (Kamailio's cfg group "tcp", spec §0.3). A Runtime is immutable once
// published: SetRuntime swaps in a new one, and each worker reads the
// snapshot once per poll round. Each field documents its cfg name, range
// and what it affects; see Config for the meaning.
type Runtime struct {
	// RdBufSize is rd_buf_size, bytes, 512…16777216; new connections.
	RdBufSize int
	// ConnectionLifetime is connection_lifetime; negative means never. New
	// connections, and existing ones at their next send, as in Kamailio.
	ConnectionLifetime time.Duration
	// ConnectTimeout is connect_timeout, up to 134217727 s; negative means
	// the default (10 s). Later Dials.
	ConnectTimeout time.Duration
	// SendTimeout is send_timeout, up to 134217727 s; negative means the
	// default (10 s). Queues that become non-empty afterwards, later Writes
	// with Async=no, and TCP_USER_TIMEOUT of later sockets.
	SendTimeout time.Duration
	// MaxConnections is max_connections, 0…2³¹−1, lowered to the start-up
	// tcp_max_connections.
	MaxConnections int
	// NoConnect is no_connect.
	NoConnect bool
	// ConnWQMax is conn_wq_max, bytes, 0…1048576.
	ConnWQMax int
	// WQMax is wq_max, bytes, 0…1073741824.
	WQMax int
	// WQBlkSize is wq_blk_size, bytes, 1…65535; new queue blocks.
	WQBlkSize int
	// DelayedAck is delayed_ack; later outbound sockets.
	DelayedAck bool
	// SynCnt is syncnt (0…127 on linux); listeners at once (so later
	// accepted connections) and later outbound sockets.
	SynCnt int
	// Linger2 is linger2, seconds (0…120 on linux); as SynCnt.
	Linger2 int
	// KeepAlive is keepalive; as SynCnt. Not forced on by the sub-options at
	// runtime, as in Kamailio.
	KeepAlive bool
	// KeepIdle and KeepIntvl are keepidle and keepintvl, seconds (0…32767
	// on linux); KeepCnt is keepcnt (0…127 on linux); as SynCnt.
	KeepIdle  int
	KeepIntvl int
	KeepCnt   int
	// CRLFPing is crlf_ping; next message boundary.
	CRLFPing bool
	// AcceptAliases is accept_aliases; next message.
	AcceptAliases bool
	// AcceptNoCL is accept_no_cl; next message.
	AcceptNoCL bool
	// ReusePort is reuse_port; later outbound sockets (listeners are bound
	// once).
	ReusePort bool
	// WaitData is wait_data_ms, 0…7200000 ms; connections accepted
	// afterwards.
	WaitData time.Duration
}

// runtimeOf returns the runtime part of a checked start-up configuration.
func runtimeOf(cfg Config) Runtime {
	return Runtime{
		RdBufSize:          cfg.RdBufSize,
		ConnectionLifetime: cfg.ConnectionLifetime,
		ConnectTimeout:     cfg.ConnectTimeout,
		SendTimeout:        cfg.SendTimeout,
		MaxConnections:     cfg.MaxConnections,
		NoConnect:          cfg.NoConnect,
		ConnWQMax:          cfg.ConnWQMax,
		WQMax:              cfg.WQMax,
		WQBlkSize:          cfg.WQBlkSize,
		DelayedAck:         cfg.DelayedAck,
		SynCnt:             cfg.SynCnt,
		Linger2:            cfg.Linger2,
		KeepAlive:          cfg.KeepAlive,
		KeepIdle:           cfg.KeepIdle,
		KeepIntvl:          cfg.KeepIntvl,
		KeepCnt:            cfg.KeepCnt,
		CRLFPing:           cfg.CRLFPing,
		AcceptAliases:      cfg.AcceptAliases,
		AcceptNoCL:         cfg.AcceptNoCL,
		ReusePort:          cfg.ReusePort,
		WaitData:           cfg.WaitData,
	}
}

// check refuses out-of-range values; unlike start-up, runtime changes are not
// clamped (Kamailio's cfg framework refuses them too, spec §0.3). The one
// exception is Kamailio's own: max_connections is lowered to the start-up
// value. It returns the value to publish.
func (r Runtime) check(startMax int) (Runtime, error) {
	switch {
	case r.RdBufSize < minRdBufSize || r.RdBufSize > maxRdBufSize:
		return r, fmt.Errorf("rd_buf_size: %d is out of range (bytes, %d…%d)", r.RdBufSize, minRdBufSize, maxRdBufSize)
	case r.ConnectTimeout > maxTimeout:
		return r, fmt.Errorf("connect_timeout: %v is out of range (-1…%d s)", r.ConnectTimeout, int64(maxTimeout/time.Second))
	case r.SendTimeout > maxTimeout:
		return r, fmt.Errorf("send_timeout: %v is out of range (-1…%d s)", r.SendTimeout, int64(maxTimeout/time.Second))
	case r.ConnectionLifetime > maxTimeout:
		return r, fmt.Errorf("connection_lifetime: %v is out of range (-1…%d s)", r.ConnectionLifetime, int64(maxTimeout/time.Second))
	case r.MaxConnections < 0:
		return r, fmt.Errorf("max_connections: %d is out of range (0…%d)", r.MaxConnections, startMax)
	case r.ConnWQMax < 0 || r.ConnWQMax > maxConnWQMax:
		return r, fmt.Errorf("conn_wq_max: %d is out of range (bytes, 0…%d)", r.ConnWQMax, maxConnWQMax)
	case r.WQMax < 0 || r.WQMax > maxWQMax:
		return r, fmt.Errorf("wq_max: %d is out of range (bytes, 0…%d)", r.WQMax, maxWQMax)
	case r.WQBlkSize < 1 || r.WQBlkSize > maxWQBlkSize:
		return r, fmt.Errorf("wq_blk_size: %d is out of range (bytes, 1…%d)", r.WQBlkSize, maxWQBlkSize)
	case r.WaitData < 0 || r.WaitData > maxWaitData:
		return r, fmt.Errorf("wait_data_ms: %v is out of range (0…%d ms)", r.WaitData, maxWaitData.Milliseconds())
	case r.SynCnt < 0 || r.SynCnt > maxKamCnt:
		return r, fmt.Errorf("syncnt: %d is out of range (0…%d)", r.SynCnt, maxKamCnt)
	case r.Linger2 < 0 || r.Linger2 > maxKamLinger2:
		return r, fmt.Errorf("linger2: %d is out of range (seconds, 0…%d)", r.Linger2, maxKamLinger2)
	case r.KeepIdle < 0 || r.KeepIdle > maxKamKeep:
		return r, fmt.Errorf("keepidle: %d is out of range (seconds, 0…%d)", r.KeepIdle, maxKamKeep)
	case r.KeepIntvl < 0 || r.KeepIntvl > maxKamKeep:
		return r, fmt.Errorf("keepintvl: %d is out of range (seconds, 0…%d)", r.KeepIntvl, maxKamKeep)
	case r.KeepCnt < 0 || r.KeepCnt > maxKamCnt:
		return r, fmt.Errorf("keepcnt: %d is out of range (0…%d)", r.KeepCnt, maxKamCnt)
	}
	// Within Kamailio's range but beyond what Linux honours: refused rather
	// than logged and left unset.
	if err := checkSockOpts(r.KeepIdle, r.KeepIntvl, r.KeepCnt, r.Linger2, r.SynCnt); err != nil {
		return r, err
	}
	if r.ConnectTimeout < 0 {
		r.ConnectTimeout = 10 * time.Second
	}
	if r.SendTimeout < 0 {
		r.SendTimeout = 10 * time.Second
	}
	r.MaxConnections = min(r.MaxConnections, startMax)
	return r, nil
}
