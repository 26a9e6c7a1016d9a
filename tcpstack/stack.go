package tcpstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
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
	listeners []listener
	acc       *acceptor
	workers   []*worker
	open      atomic.Int64 // connections open, over all workers (tcp_max_connections)

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
		stopped: make(chan struct{}),
	}
	s.rt.Store(&Runtime{RdBufSize: cfg.RdBufSize, ConnectionLifetime: cfg.ConnectionLifetime})
	if err := s.init(method); err != nil {
		s.release()
		return nil, fmt.Errorf("tcpstack: %w", err)
	}
	return s, nil
}

func (s *Stack) init(method pollMethod) error {
	for _, ap := range s.cfg.Listen {
		l, err := listen(ap)
		if err != nil {
			return err
		}
		s.listeners = append(s.listeners, l)
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
// the values it replaced. Out-of-range values are refused, not clamped.
func (s *Stack) SetRuntime(r Runtime) (old Runtime, err error) {
	if err := r.check(); err != nil {
		return s.Runtime(), fmt.Errorf("tcpstack: %w", err)
	}
	return *s.rt.Swap(&r), nil
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
		Rejected:     s.acc.rejected.Load(),
		AcceptErrors: s.acc.acceptErrors.Load(),
		Workers:      make([]WorkerStats, len(s.workers)),
	}
	for i, w := range s.workers {
		ws := w.stats()
		st.Workers[i] = ws
		st.WorkerStats.add(ws)
	}
	return st
}
