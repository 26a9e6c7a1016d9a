package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// rec makes a record for Append: header room plus payload.
func rec(payload string) []byte {
	return append(make([]byte, HeaderSize), payload...)
}

func open(t *testing.T, dir string, max int64) *Spool {
	t.Helper()
	s, err := Open(dir, max, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// drain reads n records, settling each, and returns their payloads.
func drain(t *testing.T, s *Spool, n int) []string {
	t.Helper()
	var out []string
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var last uint64
	for range n {
		r, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d records: %v", len(out), err)
		}
		if r.Pos() <= last {
			t.Fatalf("position %x after %x: not increasing", r.Pos(), last)
		}
		last = r.Pos()
		out = append(out, string(r.Payload))
		s.Done(r)
	}
	return out
}

func segFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestOrderAcrossSegments: records come back in append order across many
// segments, the reader and appenders interleaving, and every segment file is
// deleted once read.
func TestOrderAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 4*minSeg) // segments of minSeg bytes
	big := bytes.Repeat([]byte("x"), 100<<10)
	var want []string
	for i := range 50 {
		p := fmt.Sprintf("%03d:%s", i, big)
		if err := s.Append(rec(p), i); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		want = append(want, p)
		if i%10 == 9 { // read some while appending
			got := drain(t, s, 5)
			for j, g := range got {
				if g != want[j] {
					t.Fatalf("record %d out of order", j)
				}
			}
			want = want[5:]
		}
	}
	got := drain(t, s, len(want))
	for j := range got {
		if got[j] != want[j] {
			t.Fatalf("record %d out of order: %.4s, want %.4s", j, got[j], want[j])
		}
	}
	// The last segment read is deleted by the next Next.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next on an empty spool: %v", err)
	}
	st := s.Stats()
	if st.Rows != 0 || st.Records != 0 || st.AppendedRows != 49*50/2 || st.SettledRows != st.AppendedRows {
		t.Errorf("stats %+v", st)
	}
	if n := len(segFiles(t, dir, segExt)); n != 0 {
		t.Errorf("%d segment files left after everything was read", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReopen: unsettled records survive a close (and a crash, which leaves
// the same files), keep their order, and keep the spool's identity.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 4*minSeg)
	for i := range 10 {
		if err := s.Append(rec(fmt.Sprint("r", i)), 1); err != nil {
			t.Fatal(err)
		}
	}
	got := drain(t, s, 3)
	id := s.ID()
	s.Close()

	s = open(t, dir, 4*minSeg)
	defer s.Close()
	if s.ID() != id {
		t.Errorf("identity changed over a reopen: %s, was %s", s.ID(), id)
	}
	// Settled records of a segment still being read come again: the
	// caller skips them by position (Record.Pos).
	if st := s.Stats(); st.Records != 10 {
		t.Errorf("after reopen: %d records, want the whole unfinished segment (10)", st.Records)
	}
	got = append(got[:0], drain(t, s, 10)...)
	for i, g := range got {
		if g != fmt.Sprint("r", i) {
			t.Fatalf("record %d is %q", i, g)
		}
	}
}

// TestNewIdentityWhenEmpty: an empty spool starts a new identity, so that
// positions restarting from segment 1 are never confused with old ones.
func TestNewIdentityWhenEmpty(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 4*minSeg)
	id := s.ID()
	s.Close()
	s = open(t, dir, 4*minSeg)
	defer s.Close()
	if s.ID() == id {
		t.Error("empty spool kept its identity")
	}
}

// TestFull: Append refuses what does not fit, counts it, and has room again
// once records are settled.
func TestFull(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 2*minSeg)
	defer s.Close()
	p := bytes.Repeat([]byte("y"), 200<<10)
	n := 0
	for ; ; n++ {
		err := s.Append(rec(string(p)), 1)
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 8 || n > 10 {
		t.Errorf("%d records of 200 KiB fit in 2 MiB", n)
	}
	if st := s.Stats(); st.Full != 1 || st.Bytes > 2*minSeg {
		t.Errorf("stats %+v", st)
	}
	drain(t, s, n)
	// Reading the last segment to its end deletes it.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	s.Next(ctx)
	if err := s.Append(rec(string(p)), 1); err != nil {
		t.Errorf("append after draining: %v", err)
	}
}

// TestTornTail: a record cut short by a crash at the end of a segment is
// dropped at Open; the records before it are kept.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 4*minSeg)
	for i := range 3 {
		s.Append(rec(fmt.Sprint("ok", i)), 1)
	}
	s.Close()
	f := segFiles(t, dir, segExt)[0]
	fh, err := os.OpenFile(f, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	torn := rec("this record never finished")
	torn[0] = 26 // length of the payload, header otherwise garbage
	fh.Write(torn[:HeaderSize+5])
	fh.Close()

	s = open(t, dir, 4*minSeg)
	defer s.Close()
	st := s.Stats()
	if st.Records != 3 || st.TornTailBytes != HeaderSize+5 {
		t.Errorf("stats %+v, want 3 records and %d torn bytes", st, HeaderSize+5)
	}
	if got := drain(t, s, 3); got[2] != "ok2" {
		t.Errorf("records %q", got)
	}
}

// TestDamagedSegmentMovedAside: a checksum failure in the middle of a
// segment moves the rest of it aside and reading goes on with the next.
func TestDamagedSegmentMovedAside(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 4*minSeg)
	for i := range 3 {
		s.Append(rec(fmt.Sprint("first", i)), 1)
	}
	s.Close()
	s = open(t, dir, 4*minSeg) // a second segment
	s.Append(rec("second0"), 1)
	s.Close()
	first := segFiles(t, dir, segExt)[0]
	b, _ := os.ReadFile(first)
	// Flip a byte in the second record's payload.
	off := len(magic) + HeaderSize + len("first0") + HeaderSize
	b[off] ^= 0xff
	os.WriteFile(first, b, 0o640)

	s = open(t, dir, 4*minSeg)
	defer s.Close()
	got := drain(t, s, 2)
	if got[0] != "first0" || got[1] != "second0" {
		t.Errorf("records %q, want first0 then second0", got)
	}
	if st := s.Stats(); st.CorruptSkips != 1 || st.Rows != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := len(segFiles(t, dir, badExt)); n != 1 {
		t.Errorf("%d segments moved aside, want 1", n)
	}
}

// TestForeignFile: a file that is not a segment stops Open with a message
// naming it, rather than being deleted.
func TestForeignFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "notes.seg"), []byte("hello"), 0o640)
	if _, err := Open(dir, 4*minSeg, nil); err == nil || !bytes.Contains([]byte(err.Error()), []byte("notes.seg")) {
		t.Errorf("Open: %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	s, err := Open(b.TempDir(), 128<<20, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := rec(string(bytes.Repeat([]byte("z"), 500<<10))) // a batch of 500 SIP rows
	b.SetBytes(int64(len(r)))
	b.ReportAllocs()
	for b.Loop() {
		err := s.Append(r, 500)
		if errors.Is(err, ErrFull) {
			// Keep the disk use bounded: read everything back, untimed.
			b.StopTimer()
			for s.Stats().Records > 0 {
				rc, _ := s.Next(context.Background())
				s.Done(rc)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
			s.Next(ctx) // deletes the last segment read
			cancel()
			b.StartTimer()
			err = s.Append(r, 500)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzSegment: a segment file with any content opens and reads without a
// panic or a hang; every record handed out passed its checksum, and the
// spool ends empty.
func FuzzSegment(f *testing.F) {
	good := func(payloads ...string) []byte {
		b := []byte(magic)
		for _, p := range payloads {
			r := rec(p)
			putHeader(r, r[HeaderSize:], 1) // framed as Append does
			b = append(b, r...)
		}
		return b
	}
	f.Add(good("hello", "world"))
	f.Add(good(""))
	f.Add([]byte(magic))
	f.Add([]byte("HEPDSPL"))
	f.Add(append(good("x"), 0xff, 0xff, 0xff, 0x7f))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "0000000000000001.seg"), data, 0o640); err != nil {
			t.Fatal(err)
		}
		s, err := Open(dir, 4*minSeg, nil)
		if err != nil {
			return // not a segment: refused with an error
		}
		defer s.Close()
		// Next returns a record it has without looking at ctx: a done
		// one ends the loop at once where a timeout cost every input a
		// millisecond.
		done, cancel := context.WithCancel(context.Background())
		cancel()
		n := s.Stats().Records
		for range n + 1 {
			r, err := s.Next(done)
			if err != nil {
				break
			}
			s.Done(r)
		}
		if st := s.Stats(); st.Records != 0 || st.Rows != 0 {
			t.Fatalf("after reading everything: %+v", st)
		}
	})
}
