// Package ratelog keeps error logging from bad input cheap and readable: each
// kind of message is logged at most once per interval, and the line that does
// get through says how many were suppressed since the previous one.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Logger logs through an slog.Logger, at most once per interval per key.
// It is safe for concurrent use.
type Logger struct {
	log   *slog.Logger
	every time.Duration

	mu   sync.Mutex
	keys map[string]*state
}

type state struct {
	last       time.Time
	suppressed int
}

// New returns a Logger that lets one line per key through every interval.
func New(log *slog.Logger, every time.Duration) *Logger {
	return &Logger{log: log, every: every, keys: make(map[string]*state)}
}

// Log logs msg at level unless a line with the same key was logged less than
// the interval ago; suppressed lines are counted and reported as
// "suppressed" on the next line that gets through.
func (l *Logger) Log(level slog.Level, key, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	s := l.keys[key]
	if s == nil {
		s = &state{}
		l.keys[key] = s
	} else if now.Sub(s.last) < l.every {
		s.suppressed++
		l.mu.Unlock()
		return
	}
	n := s.suppressed
	s.last, s.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, slog.Int("suppressed", n))
	}
	l.log.Log(context.Background(), level, msg, args...)
}
