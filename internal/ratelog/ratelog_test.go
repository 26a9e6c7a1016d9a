package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogOncePerIntervalPerKey(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), time.Hour)
	for range 5 {
		l.Log(slog.LevelWarn, "a", "bad frame")
	}
	l.Log(slog.LevelWarn, "b", "other")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (one per key):\n%s", len(lines), buf.String())
	}
}

func TestSuppressedCountReported(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 20*time.Millisecond)
	for range 4 {
		l.Log(slog.LevelWarn, "a", "bad frame")
	}
	time.Sleep(25 * time.Millisecond) // the interval is the behaviour under test
	l.Log(slog.LevelWarn, "a", "bad frame")
	if !strings.Contains(buf.String(), "suppressed=3") {
		t.Fatalf("want suppressed=3 in:\n%s", buf.String())
	}
}
