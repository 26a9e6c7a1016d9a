package tcpstack

import "time"

// FrameErrorCounts counts framing failures by kind; each closed a connection.
type FrameErrorCounts struct {
	BadMagic       uint64 // bytes at a boundary were not "HEP3"
	LengthTooShort uint64 // HEP3 length < 6
	LengthTooLong  uint64 // HEP3 length > tcp_rd_buf_size
	Truncated      uint64 // the connection ended (or the stack shut down) inside a frame
}

func (c *FrameErrorCounts) add(o FrameErrorCounts) {
	c.BadMagic += o.BadMagic
	c.LengthTooShort += o.LengthTooShort
	c.LengthTooLong += o.LengthTooLong
	c.Truncated += o.Truncated
}

func (c *FrameErrorCounts) count(k FrameErrorKind) {
	switch k {
	case ErrBadMagic:
		c.BadMagic++
	case ErrLengthTooShort:
		c.LengthTooShort++
	case ErrLengthTooLong:
		c.LengthTooLong++
	case ErrTruncated:
		c.Truncated++
	}
}

// WorkerStats are the counters of one reader worker, or their sum.
type WorkerStats struct {
	Open             int64  // connections open now
	Accepted         uint64 // connections handed to the worker
	ClosedByPeer     uint64 // the peer closed (EOF)
	ClosedByError    uint64 // read error, framing error, or the poller refused the fd
	ClosedByLifetime uint64 // idle for tcp_connection_lifetime
	ClosedByShutdown uint64 // closed by Stack.Shutdown
	Frames           uint64 // frames delivered to the Sink
	Bytes            uint64 // bytes read
	FrameErrors      FrameErrorCounts
	Deliveries       uint64        // Sink.Deliver calls
	DeliverBlocked   time.Duration // time spent inside Sink.Deliver
}

func (s *WorkerStats) add(o WorkerStats) {
	s.Open += o.Open
	s.Accepted += o.Accepted
	s.ClosedByPeer += o.ClosedByPeer
	s.ClosedByError += o.ClosedByError
	s.ClosedByLifetime += o.ClosedByLifetime
	s.ClosedByShutdown += o.ClosedByShutdown
	s.Frames += o.Frames
	s.Bytes += o.Bytes
	s.FrameErrors.add(o.FrameErrors)
	s.Deliveries += o.Deliveries
	s.DeliverBlocked += o.DeliverBlocked
}

// Stats is a snapshot of the stack's counters: the totals (embedded), the
// acceptor's own, and one entry per worker. Each worker publishes its
// counters once per poll round, so a snapshot may lag by one round.
type Stats struct {
	WorkerStats
	Rejected     uint64 // closed at accept because tcp_max_connections was reached
	AcceptErrors uint64 // accept4 failures other than EAGAIN/ECONNABORTED
	Workers      []WorkerStats
}
