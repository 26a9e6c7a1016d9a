package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"sync"
	"time"
)

// config is what one run sends and where.
type config struct {
	transport string // "tcp" or "udp"
	target    string // host:port
	conns     int    // TCP connections or UDP sockets
	rate      int    // messages per second in total; 0 = unlimited
	gso       bool   // UDP: equal-size datagrams in one GSO write, where the OS has it
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

	segmented int // datagrams sent in UDP GSO writes
}

func (s *stats) count(l label, t table, size int) {
	s.sent[l]++
	s.tables[t]++
	s.total++
	s.bytes += size
}

func (s *stats) fail(err error) {
	if s.firstErr == nil {
		s.firstErr = err
	}
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
	s.segmented += o.segmented
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

// datagramBatch is how many UDP datagrams go in one sendmmsg, and how many
// units a UDP sender interleaves.
const datagramBatch = 64

// queued is one message in a batch, counted once it is written.
type queued struct {
	l          label
	t          table
	start, end int // in the batch
}

func (m queued) size() int { return m.end - m.start }

// step is one message of a connection's sequence: message m of unit u.
// last marks the last message of a step of an interleaved window.
type step struct {
	u    unit
	m    int
	last bool
}

// sequence yields the messages connection w sends, in order. Over TCP each
// unit's messages follow one another. Over UDP the connection takes its
// units datagramBatch at a time and sends the first message of each, then
// the second of each, and so on: every unit's messages stay in order, and
// a step's datagrams, from distinct units, may go in any order among
// themselves, which lets the sender put equal sizes together.
func (c *config) sequence(w int) iter.Seq[step] {
	return func(yield func(step) bool) {
		if c.transport == "tcp" {
			for i := w; i < c.units(); i += c.conns {
				u := c.unit(i)
				for m := range u.kind.messages() {
					if !yield(step{u: u, m: m}) {
						return
					}
				}
			}
			return
		}
		var window [datagramBatch]unit
		for base := w; base < c.units(); base += c.conns * datagramBatch {
			n, steps := 0, 0
			for i := base; i < c.units() && n < datagramBatch; i += c.conns {
				window[n] = c.unit(i)
				steps = max(steps, window[n].kind.messages())
				n++
			}
			for m := range steps {
				lastAt := -1
				for k, u := range window[:n] {
					if m < u.kind.messages() {
						lastAt = k
					}
				}
				for k, u := range window[:n] {
					if m < u.kind.messages() && !yield(step{u: u, m: m, last: k == lastAt}) {
						return
					}
				}
			}
		}
	}
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
		ds    *datagramSender
	)
	if datagrams {
		ds = newDatagramSender(conn.(*net.UDPConn), cfg.gso && gsoSupported)
	}
	flush := func() error {
		defer func() { batch, q = batch[:0], q[:0] }()
		if len(q) == 0 {
			return nil
		}
		if datagrams {
			return ds.send(batch, q, &done)
		}
		if _, err := conn.Write(batch); err != nil {
			done.fail(err)
			return err
		}
		for _, m := range q {
			done.count(m.l, m.t, m.size())
		}
		return nil
	}

	have := 0 // tokens taken and not yet used
	for st := range cfg.sequence(w) {
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
		batch, l = g.appendMessage(batch, st.u, st.m)
		q = append(q, queued{l, tableOf(st.u.kind), start, len(batch)})
		if datagrams && (st.last || len(q) == datagramBatch) || !datagrams && len(batch) >= flushAt {
			// A stream error loses the connection.
			if err := flush(); err != nil && !datagrams {
				return done
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
