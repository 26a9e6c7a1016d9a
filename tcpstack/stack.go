package tcpstack

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hepd/hepd/internal/ratelog"
)

// logEvery is how often one kind of bad-input log line may be written.
const logEvery = 5 * time.Second

// Stack is a running TCP front end: listeners, an acceptor and tcp_children
// reader workers that frame the streams and hand frames to a Sink.
type Stack struct {
	cfg       Config
	sink      Sink
	log       *slog.Logger
	rlog      *ratelog.Logger
	rt        atomic.Pointer[Runtime]
	rtMu      sync.Mutex // serialises runtime changes
	listeners []listener
	lmu       sync.Mutex // guards the listener fds against their close
	lclosed   bool
	acc       *acceptor
	workers   []*worker
	tbl       *table
	open      atomic.Int64  // connections open, inbound and outbound (tcp_max_connections)
	nextID    atomic.Uint64 // last connection id given out
	rr        atomic.Uint64 // round-robin start for picking a worker

	wqBytes  atomic.Int64 // bytes in all write queues (tcp_wq_max)
	wqBlocks atomic.Int64 // tcp_wq_blk_size blocks in all write queues

	rejMax, rejUnique, rejProxy atomic.Uint64
	rejIPLimit                  atomic.Uint64
	dialRefused, dialErrors     atomic.Uint64

	startOnce sync.Once
	started   atomic.Bool
	stopOnce  sync.Once
	stopped   chan struct{} // closed when every goroutine has finished
}

// New validates cfg, opens and binds the listeners (so that a bad address or
// a port in use is a start-up error) and prepares the workers. Nothing is
// accepted until Start. A nil log discards log output.
func New(cfg Config, sink Sink, log *slog.Logger) (*Stack, error) {
	if sink == nil {
		return nil, errors.New("tcpstack: nil Sink")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, method, err := cfg.check(log)
	if err != nil {
		return nil, fmt.Errorf("tcpstack: %w", err)
	}
	cfg.Listen = append([]netip.AddrPort(nil), cfg.Listen...)
	s := &Stack{
		cfg:     cfg,
		sink:    sink,
		log:     log,
		rlog:    ratelog.New(log, logEvery),
		tbl:     newTable(),
		stopped: make(chan struct{}),
	}
	rt := runtimeOf(cfg)
	s.rt.Store(&rt)
	if err := s.init(method); err != nil {
		s.release()
		return nil, fmt.Errorf("tcpstack: %w", err)
	}
	return s, nil
}

func (s *Stack) init(method pollMethod) error {
	for _, ap := range s.cfg.Listen {
		l, err := listen(ap, &s.cfg)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, l)
	}
	if err := s.setListenerOpts(s.rt.Load(), nil); err != nil {
		return err
	}
	for i := range s.cfg.Children {
		w, err := newWorker(s, i, method)
		if err != nil {
			return fmt.Errorf("tcp_poll_method %v: %w", method, err)
		}
		s.workers = append(s.workers, w)
	}
	a, err := newAcceptor(s, method)
	if err != nil {
		return fmt.Errorf("tcp_poll_method %v: %w", method, err)
	}
	s.acc = a
	return nil
}

// release closes what New opened, for a Stack that never started.
func (s *Stack) release() {
	if s.acc != nil {
		s.acc.stop() // closes the listeners too
	} else {
		for _, l := range s.listeners {
			closeFD(l.fd)
		}
	}
	for _, w := range s.workers {
		w.p.close()
		closeFD(w.wakeFD)
	}
}

// Start launches the acceptor and the workers. It returns at once; calling
// it again, or after Shutdown, does nothing.
func (s *Stack) Start() {
	// A Shutdown before Start uses up startOnce, so this cannot run then.
	s.startOnce.Do(func() {
		s.started.Store(true)
		for _, w := range s.workers {
			go w.run()
		}
		go s.acc.run()
	})
}

// Addrs returns the bound listener addresses, in the order of Config.Listen
// (with the actual port where port 0 was asked for).
func (s *Stack) Addrs() []netip.AddrPort {
	out := make([]netip.AddrPort, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.addr
	}
	return out
}

// Runtime returns the runtime values in effect.
func (s *Stack) Runtime() Runtime { return *s.rt.Load() }

// SetRuntime validates r and makes it the runtime configuration; it returns
// the values it replaced. Out-of-range values are refused, not clamped
// (except max_connections, lowered to the start-up value as Kamailio does).
// Listener socket options that changed are re-applied at once, so
// connections accepted afterwards carry them.
func (s *Stack) SetRuntime(r Runtime) (old Runtime, err error) {
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	return s.setRuntimeLocked(r)
}

func (s *Stack) setRuntimeLocked(r Runtime) (old Runtime, err error) {
	cur := s.rt.Load()
	r, err = r.check(s.cfg.MaxConnections)
	if err != nil {
		return *cur, fmt.Errorf("tcpstack: %w", err)
	}
	if err := s.setListenerOpts(&r, cur); err != nil {
		// Put back what was applied before the failure.
		s.setListenerOpts(cur, &r)
		return *cur, fmt.Errorf("tcpstack: %w", err)
	}
	if r.MaxConnections < s.cfg.MaxConnections && r.MaxConnections != cur.MaxConnections {
		s.log.Info("max_connections changed", "value", r.MaxConnections, "start-up value", s.cfg.MaxConnections)
	}
	s.rt.Store(&r)
	return *cur, nil
}

// Shutdown stops accepting (the listeners are closed), then each worker
// reads what is already readable on its connections, delivers every complete
// frame, closes its connections and exits. Shutdown returns when all of that
// is done, or with ctx's error when ctx ends first; the workers then still
// finish in the background (a worker blocked in Sink.Deliver cannot be
// interrupted). It is safe to call more than once.
func (s *Stack) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		if !s.started.Load() {
			// Never started (or Start lost the race): nothing runs yet, so
			// prevent Start and release directly.
			s.startOnce.Do(func() {})
			if !s.started.Load() {
				s.release()
				close(s.stopped)
				return
			}
		}
		wakeFD(s.acc.wakeFD)
		go func() {
			// Workers are told to stop only after the acceptor has handed
			// over its last connection, so none is left behind.
			<-s.acc.done
			for _, w := range s.workers {
				w.send(cmd{op: opStop})
			}
			for _, w := range s.workers {
				<-w.done
			}
			close(s.stopped)
		}()
	})
	select {
	case <-s.stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tcpstack: shutdown: %w", ctx.Err())
	}
}

// Stats returns the counters, summed over the workers on read.
func (s *Stack) Stats() Stats {
	st := Stats{
		RejectedMaxConnections: s.rejMax.Load(),
		RejectedIPLimit:        s.rejIPLimit.Load(),
		RejectedUnique:         s.rejUnique.Load(),
		RejectedProxy:          s.rejProxy.Load(),
		DialsRefused:           s.dialRefused.Load(),
		DialErrors:             s.dialErrors.Load(),
		AcceptErrors:           s.acc.acceptErrors.Load(),
		WriteQueueBytes:        s.wqBytes.Load(),
		WriteQueueBlocks:       s.wqBlocks.Load(),
		Workers:                make([]WorkerStats, len(s.workers)),
	}
	st.Rejected = st.RejectedMaxConnections + st.RejectedIPLimit + st.RejectedUnique + st.RejectedProxy
	for i, w := range s.workers {
		ws := w.stats()
		st.Workers[i] = ws
		st.WorkerStats.add(ws)
	}
	return st
}

// Conns describes every open connection, ordered by id. Each worker answers
// for its own connections through its command queue, so no goroutine reads
// another's state; a worker blocked in Sink.Deliver answers when Deliver
// returns. A stopped stack has none.
func (s *Stack) Conns() []ConnInfo {
	var out []ConnInfo
	chans := make([]chan []ConnInfo, 0, len(s.workers))
	for _, w := range s.workers {
		ch := make(chan []ConnInfo, 1)
		if w.send(cmd{op: opInfo, info: ch}) {
			chans = append(chans, ch)
		}
	}
	for _, ch := range chans {
		out = append(out, <-ch...)
	}
	slices.SortFunc(out, func(a, b ConnInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Lookup finds a live connection by the peer's address: a connection's
// remote address (the PROXY source where there was one) or one of its Via
// aliases (tcp_accept_aliases), chosen as tcp_connection_match says (see
// Config.ConnectionMatch). Dial uses it to reuse connections.
func (s *Stack) Lookup(addr netip.AddrPort) (connID uint64, ok bool) {
	addr = normAddr(addr)
	e := s.tbl.lookup(addr, s.cfg.ConnectionMatch == 1, s.sendPort(addr))
	if e == nil {
		return 0, false
	}
	return e.id, true
}
