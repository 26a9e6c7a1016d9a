package tcpstack

import (
	"errors"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// FrameErrorCounts counts framing failures by kind; each closed a connection.
type FrameErrorCounts struct {
	TooLarge         uint64 // a message above tcp_rd_buf_size−1
	NoContentLength  uint64 // no usable Content-Length, tcp_accept_no_cl=no
	BadContentLength uint64 // Content-Length overflow
	BadHEP3Length    uint64 // HEP3 length < 6
	Truncated        uint64 // the connection ended (or the stack shut down) inside a message
}

func (c *FrameErrorCounts) add(o FrameErrorCounts) {
	c.TooLarge += o.TooLarge
	c.NoContentLength += o.NoContentLength
	c.BadContentLength += o.BadContentLength
	c.BadHEP3Length += o.BadHEP3Length
	c.Truncated += o.Truncated
}

func (c *FrameErrorCounts) count(k FrameErrorKind) {
	switch k {
	case ErrTooLarge:
		c.TooLarge++
	case ErrNoContentLength:
		c.NoContentLength++
	case ErrBadContentLength:
		c.BadContentLength++
	case ErrBadHEP3Length:
		c.BadHEP3Length++
	case ErrTruncated:
		c.Truncated++
	}
}

// WorkerStats are the counters of one reader worker, or their sum.
type WorkerStats struct {
	Open                int64  // connections open now
	Accepted            uint64 // inbound connections handed to the worker
	Dialed              uint64 // outbound connections handed to the worker
	ClosedByPeer        uint64 // the peer closed (EOF)
	ClosedByError       uint64 // read or write error, framing error, or the poller refused the fd
	ClosedByLifetime    uint64 // idle for tcp_connection_lifetime
	ClosedByShutdown    uint64 // closed by Stack.Shutdown
	ClosedBySendTimeout uint64 // queued data made no progress for tcp_send_timeout
	ClosedByQueue       uint64 // a write would have exceeded tcp_conn_wq_max or tcp_wq_max
	ClosedByProcessing  uint64 // a CheckedSink failed a frame and tcp_script_mode is even
	ClosedByReadTimeout uint64 // a message not complete within tcp_msg_read_timeout of its first bytes
	ClosedByDataTimeout uint64 // no complete message within tcp_msg_data_timeout of accept
	ProcessingErrors    uint64 // frames a CheckedSink failed, whatever tcp_script_mode
	Frames              uint64 // frames delivered to the Sink
	Pings               uint64 // CRLFCRLF pings answered (tcp_crlf_ping)
	Aliases             uint64 // Via aliases registered (tcp_accept_aliases)
	Bytes               uint64 // bytes read
	FrameErrors         FrameErrorCounts
	Deliveries          uint64        // Sink.Deliver calls
	DeliverBlocked      time.Duration // time spent inside Sink.Deliver
}

func (s *WorkerStats) add(o WorkerStats) {
	s.Open += o.Open
	s.Accepted += o.Accepted
	s.Dialed += o.Dialed
	s.ClosedByPeer += o.ClosedByPeer
	s.ClosedByError += o.ClosedByError
	s.ClosedByLifetime += o.ClosedByLifetime
	s.ClosedByShutdown += o.ClosedByShutdown
	s.ClosedBySendTimeout += o.ClosedBySendTimeout
	s.ClosedByQueue += o.ClosedByQueue
	s.ClosedByProcessing += o.ClosedByProcessing
	s.ClosedByReadTimeout += o.ClosedByReadTimeout
	s.ClosedByDataTimeout += o.ClosedByDataTimeout
	s.ProcessingErrors += o.ProcessingErrors
	s.Frames += o.Frames
	s.Pings += o.Pings
	s.Aliases += o.Aliases
	s.Bytes += o.Bytes
	s.FrameErrors.add(o.FrameErrors)
	s.Deliveries += o.Deliveries
	s.DeliverBlocked += o.DeliverBlocked
}

// Stats is a snapshot of the stack's counters: the totals (embedded), the
// rejections, the write queues, and one entry per worker. Each worker
// publishes its counters once per poll round, so a snapshot may lag by one
// round.
type Stats struct {
	WorkerStats
	// Rejected is every connection refused, the sum of the reasons below.
	Rejected uint64
	// RejectedMaxConnections: inbound connections accepted and closed, and
	// Dials refused, at tcp_max_connections.
	RejectedMaxConnections uint64
	// RejectedIPLimit: inbound connections accepted and closed because
	// their source IP held tcp_accept_iplimit connections already.
	RejectedIPLimit uint64
	// RejectedUnique: inbound connections closed by tcp_accept_unique.
	RejectedUnique uint64
	// RejectedProxy: inbound connections closed by tcp_accept_haproxy: no
	// conforming PROXY header, or none within tcp_wait_data.
	RejectedProxy uint64
	// DialsRefused: Dials refused by tcp_no_connect; DialErrors: connects
	// that failed or timed out (tcp_connect_timeout).
	DialsRefused uint64
	DialErrors   uint64
	AcceptErrors uint64 // accept4 failures other than EAGAIN/ECONNABORTED
	// WriteQueueBytes is what all write queues hold now (tcp_wq_max counts
	// it); WriteQueueBlocks the tcp_wq_blk_size blocks they hold.
	WriteQueueBytes  int64
	WriteQueueBlocks int64
	Workers          []WorkerStats
}

// ConnInfo describes one open connection (Stack.Conns).
type ConnInfo struct {
	ID       uint64
	Worker   int
	Outbound bool // made by Dial
	// Local and Remote are the effective addresses (the PROXY header's when
	// Proxied); Peer is the socket's peer.
	Local, Remote, Peer netip.AddrPort
	Proxied             bool
	Aliases             []netip.AddrPort // tcp_accept_aliases
	State               string           // "proxy-wait", "open" or "writing" (queue not empty)
	Age, Idle           time.Duration
	BytesIn, BytesOut   uint64
	FramesIn            uint64
	WritesOut           uint64 // successful Writes (pongs included)
	WriteQueue          int    // bytes queued
}

type closeReason uint8

const (
	closedByPeer closeReason = iota
	closedByError
	closedByLifetime
	closedByShutdown
	closedBySendTimeout
	closedByQueue
	closedByProcessing
	rejectedUnique // after a PROXY header
	rejectedProxy
	closedByReadTimeout
	closedByDataTimeout
)

func (r closeReason) String() string {
	return [...]string{"peer closed", "error", "tcp_connection_lifetime", "shutdown", "tcp_send_timeout",
		"write queue full", "processing error (tcp_script_mode)", "tcp_accept_unique", "tcp_accept_haproxy",
		"tcp_msg_read_timeout", "tcp_msg_data_timeout"}[r]
}

// errReason gives a close its counted reason from the error that caused it.
func errReason(err error) closeReason {
	switch {
	case errors.Is(err, ErrSendTimeout), errors.Is(err, unix.ETIMEDOUT):
		// ETIMEDOUT is the kernel's TCP_USER_TIMEOUT, which tcp_send_timeout
		// sets (or failed keepalive probes).
		return closedBySendTimeout
	case errors.Is(err, ErrQueueFull):
		return closedByQueue
	}
	return closedByError
}
