package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// config is what one run sends and where.
type config struct {
	transport string // "tcp" or "udp"
	target    string // host:port
	conns     int    // TCP connections or UDP sockets
	rate      int    // messages per second in total; 0 = unlimited
	timeout   time.Duration

	calls, registrations, options int

	prefix   string
	nodeID   uint32
	nodeName string
	password string
}

// units returns how many units of traffic cfg asks for.
func (c *config) units() int { return c.calls + c.registrations + c.options }

// unit returns the i-th unit: calls first, then registrations, then
// options pings.
func (c *config) unit(i int) unit {
	switch {
	case i < c.calls:
		return unit{kindCall, i}
	case i < c.calls+c.registrations:
		return unit{kindRegistration, i - c.calls}
	}
	return unit{kindOptions, i - c.calls - c.registrations}
}

// messages returns how many SIP messages cfg asks for.
func (c *config) messages() int {
	return c.calls*kindCall.messages() + c.registrations*kindRegistration.messages() + c.options*kindOptions.messages()
}

// stats counts what was sent.
type stats struct {
	sent     [numLabels]int
	tables   [numTables]int
	total    int
	bytes    int
	errors   int // messages not sent
	firstErr error
}

func (s *stats) count(l label, t table, size int) {
	s.sent[l]++
	s.tables[t]++
	s.total++
	s.bytes += size
}

func (s *stats) add(o *stats) {
	for i := range s.sent {
		s.sent[i] += o.sent[i]
	}
	for i := range s.tables {
		s.tables[i] += o.tables[i]
	}
	s.total += o.total
	s.bytes += o.bytes
	s.errors += o.errors
	if s.firstErr == nil {
		s.firstErr = o.firstErr
	}
}

// flushAt is how many bytes a TCP sender batches into one write.
const flushAt = 32 << 10

// send runs cfg: every connection sends the units i ≡ its index (mod
// conns), each unit's messages in order. It returns what was sent; every
// message that could not be sent (dial or write failure, timeout) counts
// as an error.
func send(ctx context.Context, cfg *config) stats {
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	tokens := pace(ctx, cfg.rate)

	results := make([]stats, cfg.conns)
	var wg sync.WaitGroup
	for w := range cfg.conns {
		wg.Go(func() { results[w] = sendConn(ctx, cfg, w, tokens) })
	}
	wg.Wait()

	var total stats
	for i := range results {
		total.add(&results[i])
	}
	total.errors = cfg.messages() - total.total
	if total.errors > 0 && total.firstErr == nil {
		total.firstErr = ctx.Err()
	}
	return total
}

// datagramBatch is how many UDP datagrams go in one sendmmsg.
const datagramBatch = 64

// queued is one message in a batch, counted once it is written.
type queued struct {
	l          label
	t          table
	start, end int // in the batch
}

// sendConn sends the units of connection w.
func sendConn(ctx context.Context, cfg *config, w int, tokens <-chan int) (done stats) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, cfg.transport, cfg.target)
	if err != nil {
		done.firstErr = err
		return done
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // unblocks a stuck write
	defer stop()

	g := generator{
		prefix: cfg.prefix, nodeID: cfg.nodeID, nodeName: []byte(cfg.nodeName),
		password: []byte(cfg.password), now: time.Now,
	}
	datagrams := cfg.transport != "tcp"
	var (
		batch []byte
		q     []queued // the messages in batch
		pc    *ipv4.PacketConn
		msgs  []ipv4.Message
	)
	if datagrams {
		// sendmmsg: one system call for many datagrams, so that the
		// generator, not the kernel entry, sets the pace. ipv4's
		// WriteBatch works on IPv6 sockets too on Linux.
		pc = ipv4.NewPacketConn(conn.(*net.UDPConn))
		msgs = make([]ipv4.Message, datagramBatch)
		for i := range msgs {
			msgs[i].Buffers = make([][]byte, 1)
		}
	}
	fail := func(err error) {
		if done.firstErr == nil {
			done.firstErr = err
		}
	}
	sent := func(m queued) { done.count(m.l, m.t, m.end-m.start) }
	flush := func() error {
		defer func() { batch, q = batch[:0], q[:0] }()
		if len(q) == 0 {
			return nil
		}
		if !datagrams {
			if _, err := conn.Write(batch); err != nil {
				fail(err)
				return err
			}
			for _, m := range q {
				sent(m)
			}
			return nil
		}
		for i, m := range q {
			msgs[i].Buffers[0] = batch[m.start:m.end]
		}
		// A datagram write error (e.g. ICMP port unreachable) loses the
		// one message it was reported for; the rest are sent again.
		var first error
		for i := 0; i < len(q); {
			n, err := pc.WriteBatch(msgs[i:len(q)], 0)
			n = max(n, 0) // -1 with an error
			for _, m := range q[i : i+n] {
				sent(m)
			}
			i += n
			if err != nil || n == 0 {
				if err == nil {
					err = errors.New("sendmmsg sent nothing")
				}
				fail(err)
				first = cmp.Or(first, err)
				i++
			}
		}
		return first
	}

	have := 0 // tokens taken and not yet used
	for i := w; i < cfg.units(); i += cfg.conns {
		u := cfg.unit(i)
		for m := range u.kind.messages() {
			if ctx.Err() != nil {
				return done
			}
			if tokens != nil && have == 0 {
				select {
				case have = <-tokens:
				default: // about to wait: send what is batched first
					if err := flush(); err != nil && !datagrams {
						return done
					}
					select {
					case have = <-tokens:
					case <-ctx.Done():
						return done
					}
				}
			}
			have--
			start := len(batch)
			var l label
			batch, l = g.appendMessage(batch, u, m)
			q = append(q, queued{l, tableOf(u.kind), start, len(batch)})
			if datagrams && len(q) == datagramBatch || !datagrams && len(batch) >= flushAt {
				// A stream error loses the connection.
				if err := flush(); err != nil && !datagrams {
					return done
				}
			}
		}
	}
	flush()
	return done
}

// pace returns a channel that yields tokens, rate per second in total, as
// counts of at most one tick's worth, until ctx is done; nil when rate is
// 0 (unlimited). Tokens not taken within four ticks (20 ms) are dropped, so
// a slow sender does not burst, while one the scheduler held back for a few
// milliseconds still catches up with the rate.
func pace(ctx context.Context, rate int) <-chan int {
	if rate <= 0 {
		return nil
	}
	const tick = 5 * time.Millisecond
	chunk := max(1, rate*int(tick)/int(time.Second))
	tokens := make(chan int, 4)
	go func() {
		t := time.NewTicker(tick)
		defer t.Stop()
		last := time.Now()
		credit := 1.0 // the first message goes at once
		for {
			for credit >= 1 {
				n := min(int(credit), chunk)
				select {
				case tokens <- n:
					credit -= float64(n)
				default: // the bucket is full: the senders are slower than rate
					credit = 0
				}
			}
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				credit += float64(rate) * now.Sub(last).Seconds()
				last = now
			}
		}
	}()
	return tokens
}

// validate checks cfg before anything is sent.
func (c *config) validate() error {
	switch {
	case c.transport != "tcp" && c.transport != "udp":
		return fmt.Errorf("transport %q: want tcp or udp", c.transport)
	case c.conns < 1:
		return errors.New("-conns must be at least 1")
	case c.rate < 0:
		return errors.New("-rate must not be negative")
	case c.calls < 0 || c.registrations < 0 || c.options < 0:
		return errors.New("message counts must not be negative")
	case c.units() == 0:
		return errors.New("nothing to send: set -calls, -registers or -options")
	}
	if _, _, err := net.SplitHostPort(c.target); err != nil {
		return fmt.Errorf("target %q: %w", c.target, err)
	}
	return nil
}
