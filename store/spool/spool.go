// Package spool is an append-only queue of records on disk: the place where
// hepd keeps batches while the database is unreachable or cannot keep up.
//
// Records are appended to segment files (NNNNNNNNNNNNNNNN.seg in the spool's
// folder); a segment is sealed when it reaches its size limit, or when the
// reader has consumed everything before it. One reader takes records in
// append order and says when each is settled; a segment file is deleted only
// once every record in it is settled, so a crash replays at most the records
// of the segment being read (the caller makes that idempotent, see Record.Seg
// and Record.End).
//
// Each record is framed as
//
//	length  uint32  payload bytes
//	rows    uint32  what the caller counts in it (rows of a batch)
//	crc     uint32  CRC-32C of rows and payload
//	payload
//
// all little-endian. A segment starts with the 8 bytes "HEPDSPL1". A
// record cut short by a crash at the end of a segment is dropped at Open (it
// was never acknowledged to anybody); a record whose checksum fails in the
// middle of a segment means the file was damaged: the rest of that segment
// is moved aside as NNNN.seg.corrupt, counted and logged, and reading goes on
// with the next segment.
//
// Appends are written with write(2) and survive a crash of the process as
// soon as Append returns; a sealed segment is fsynced, and so is the active
// one every SyncInterval and at Close, which bounds what an operating-system
// crash can take.
package spool

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HeaderSize is the room a record passed to Append must leave at its start.
const HeaderSize = 12

// MaxRecord bounds one record's payload; larger lengths read from disk are
// damage, not data.
const MaxRecord = 256 << 20

const (
	magic   = "HEPDSPL1"
	segExt  = ".seg"
	badExt  = ".corrupt"
	idFile  = "spool.id"
	minSeg  = 1 << 20
	maxSeg  = 64 << 20
	syncGap = time.Second
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFull is returned by Append when the record does not fit in the spool's
// size limit.
var ErrFull = errors.New("spool: full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("spool: closed")

// Record is one record handed out by Next.
type Record struct {
	Payload []byte // valid until the next call of Next
	Rows    int
	Seg     uint64 // segment number: increases in append order
	End     int64  // offset just past the record in its segment
}

// Pos orders records: a record with a greater Pos was appended later. It
// is how a caller remembers, outside the spool, how far it got.
func (r Record) Pos() uint64 { return r.Seg<<40 | uint64(r.End) }

// Stats is a snapshot of a Spool's counters.
type Stats struct {
	Bytes         int64  // on disk, all segments
	Segments      int    // files, the active one included
	Rows          int64  // in records not yet settled
	Records       int64  // records not yet settled
	AppendedRows  uint64 // since Open
	SettledRows   uint64 // since Open
	Full          uint64 // Appends refused for lack of room
	CorruptSkips  uint64 // damaged segment tails moved aside
	TornTailBytes uint64 // bytes of records cut short by a crash, dropped at Open
}

type segment struct {
	no      uint64
	size    int64
	rows    int64
	records int64
}

// Spool is safe for concurrent use by any number of appenders and one
// reader.
type Spool struct {
	dir    string
	max    int64
	segMax int64
	log    *slog.Logger
	id     string

	mu      sync.Mutex
	segs    []segment // oldest first; the last is active when active != nil
	active  *os.File
	dirty   bool // active has writes not yet fsynced
	size    int64
	closed  bool
	notify  chan struct{} // one token: something was appended
	stats   Stats
	stopBG  context.CancelFunc
	bgDone  chan struct{}
	nextSeg uint64

	// reader state, used by Next and Done only (one reader)
	rf    *os.File
	rbuf  *bufio.Reader
	rseg  uint64
	roff  int64
	rdata []byte
}

// Open opens (creating it if needed) the spool in dir, limited to maxBytes
// on disk. It checks every segment, dropping a record torn by a crash at
// the end of the newest one.
func Open(dir string, maxBytes int64, log *slog.Logger) (*Spool, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if maxBytes < 2*minSeg {
		return nil, fmt.Errorf("spool: size limit %d bytes is too small (at least %d)", maxBytes, 2*minSeg)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{dir: dir, max: maxBytes, segMax: min(max(maxBytes/16, minSeg), maxSeg), log: log,
		notify: make(chan struct{}, 1), nextSeg: 1}
	names, err := filepath.Glob(filepath.Join(dir, "*"+segExt))
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var nos []uint64
	for _, n := range names {
		no, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(n), segExt), 16, 64)
		if err != nil || no == 0 {
			return nil, fmt.Errorf("spool: %s is not a segment of hepd's: move it out of %s", n, dir)
		}
		nos = append(nos, no)
	}
	slices.Sort(nos)
	for _, no := range nos {
		sg, err := s.scan(no)
		if err != nil {
			return nil, err
		}
		if sg.records == 0 {
			if err := os.Remove(s.path(no)); err != nil {
				return nil, fmt.Errorf("spool: %w", err)
			}
			continue
		}
		s.segs = append(s.segs, sg)
		s.size += sg.size
		s.stats.Rows += sg.rows
		s.stats.Records += sg.records
		s.nextSeg = no + 1
	}
	if err := s.loadID(); err != nil {
		return nil, err
	}
	if s.stats.Records > 0 {
		s.notify <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBG, s.bgDone = cancel, make(chan struct{})
	go s.syncLoop(ctx)
	return s, nil
}

// loadID reads the spool's identity, or makes a new one when the spool is
// empty: positions (Record.Pos) are unique per identity, and segment
// numbers start again at 1 in an empty spool.
func (s *Spool) loadID() error {
	p := filepath.Join(s.dir, idFile)
	if len(s.segs) > 0 {
		b, err := os.ReadFile(p)
		if err == nil && len(strings.TrimSpace(string(b))) > 0 {
			s.id = strings.TrimSpace(string(b))
			return nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("spool: %w", err)
		}
	}
	var r [8]byte
	rand.Read(r[:])
	s.id = hex.EncodeToString(r[:])
	if err := os.WriteFile(p, []byte(s.id+"\n"), 0o640); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// ID names this spool's sequence of positions; it changes only when the
// spool is opened empty.
func (s *Spool) ID() string { return s.id }

// Dir returns the spool's folder.
func (s *Spool) Dir() string { return s.dir }

func (s *Spool) path(no uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", no, segExt))
}

// scan checks a segment at Open and truncates a torn last record.
func (s *Spool) scan(no uint64) (segment, error) {
	sg := segment{no: no}
	f, err := os.OpenFile(s.path(no), os.O_RDWR, 0)
	if err != nil {
		return sg, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return sg, fmt.Errorf("spool: %w", err)
	}
	r := bufio.NewReaderSize(f, 1<<16)
	var m [len(magic)]byte
	if _, err := io.ReadFull(r, m[:]); err != nil || string(m[:]) != magic {
		// A crash between create and the magic's write leaves a short file.
		if st.Size() < int64(len(magic)) {
			return sg, nil
		}
		return sg, fmt.Errorf("spool: %s does not start with %q: not a hepd spool segment", s.path(no), magic)
	}
	off := int64(len(magic))
	var buf []byte
	for {
		n, rows, _, err := readRecord(r, &buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			// A damaged or torn tail. Only the end of a file can be torn by
			// a crash; damage elsewhere is found again (and moved aside) by
			// Next, so keep the bytes for inspection.
			torn := st.Size() - off
			if errors.Is(err, io.ErrUnexpectedEOF) {
				s.log.Warn("spool: dropping a record cut short by a crash", "segment", s.path(no), "offset", off, "bytes", torn)
				if err := f.Truncate(off); err != nil {
					return sg, fmt.Errorf("spool: %w", err)
				}
				s.stats.TornTailBytes += uint64(torn)
				break
			}
			s.log.Error("spool: damaged record, the rest of the segment will be moved aside when read", "segment", s.path(no), "offset", off, "err", err)
			sg.size = st.Size()
			return sg, nil
		}
		off += int64(n)
		sg.rows += int64(rows)
		sg.records++
	}
	sg.size = off
	return sg, nil
}

// errDamaged is a checksum or length that cannot be right.
var errDamaged = errors.New("spool: damaged record")

// readRecord reads one record into *buf; n is its size on disk. It returns
// io.EOF at a clean end and io.ErrUnexpectedEOF when the file ends inside a
// record.
func readRecord(r io.Reader, buf *[]byte) (n int, rows uint32, payload []byte, err error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	ln := binary.LittleEndian.Uint32(h[0:])
	rows = binary.LittleEndian.Uint32(h[4:])
	sum := binary.LittleEndian.Uint32(h[8:])
	if ln > MaxRecord {
		return 0, 0, nil, fmt.Errorf("%w: length %d", errDamaged, ln)
	}
	if cap(*buf) < int(ln) {
		*buf = make([]byte, ln)
	}
	p := (*buf)[:ln]
	if _, err := io.ReadFull(r, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, err
	}
	if crc32.Update(crc32.Checksum(h[4:8], castagnoli), castagnoli, p) != sum {
		return 0, 0, nil, fmt.Errorf("%w: checksum", errDamaged)
	}
	return HeaderSize + int(ln), rows, p, nil
}

func putHeader(rec, p []byte, rows int) {
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(p)))
	binary.LittleEndian.PutUint32(rec[4:], uint32(rows))
	binary.LittleEndian.PutUint32(rec[8:], crc32.Update(crc32.Checksum(rec[4:8], castagnoli), castagnoli, p))
}

// Append writes rec, whose first HeaderSize bytes are room for the header
// and the rest the payload, as one record counting rows. It returns ErrFull
// when the spool has no room for it.
func (s *Spool) Append(rec []byte, rows int) error {
	if len(rec) < HeaderSize || len(rec)-HeaderSize > MaxRecord {
		return fmt.Errorf("spool: record of %d bytes (payload at most %d)", len(rec)-HeaderSize, MaxRecord)
	}
	p := rec[HeaderSize:]
	putHeader(rec, p, rows)

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.size+int64(len(rec)) > s.max {
		s.stats.Full++
		return ErrFull
	}
	if s.active != nil && s.segs[len(s.segs)-1].size+int64(len(rec)) > s.segMax {
		if err := s.sealLocked(); err != nil {
			return err
		}
	}
	if s.active == nil {
		if err := s.createLocked(); err != nil {
			return err
		}
	}
	sg := &s.segs[len(s.segs)-1]
	if _, err := s.active.Write(rec); err != nil {
		// Cut what was written: the segment must end at a record boundary.
		s.active.Truncate(sg.size)
		s.active.Seek(sg.size, io.SeekStart)
		return fmt.Errorf("spool: append: %w", err)
	}
	sg.size += int64(len(rec))
	sg.rows += int64(rows)
	sg.records++
	s.size += int64(len(rec))
	s.stats.Rows += int64(rows)
	s.stats.Records++
	s.stats.AppendedRows += uint64(rows)
	s.dirty = true
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *Spool) createLocked() error {
	no := s.nextSeg
	f, err := os.OpenFile(s.path(no), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := f.WriteString(magic); err != nil {
		f.Close()
		os.Remove(s.path(no))
		return fmt.Errorf("spool: %w", err)
	}
	s.nextSeg++
	s.active = f
	s.segs = append(s.segs, segment{no: no, size: int64(len(magic))})
	s.size += int64(len(magic))
	return nil
}

// sealLocked fsyncs and closes the active segment; the next Append starts
// another.
func (s *Spool) sealLocked() error {
	if s.active == nil {
		return nil
	}
	err := s.active.Sync()
	if cerr := s.active.Close(); err == nil {
		err = cerr
	}
	s.active, s.dirty = nil, false
	if err != nil {
		return fmt.Errorf("spool: seal segment: %w", err)
	}
	return nil
}

func (s *Spool) syncLoop(ctx context.Context) {
	defer close(s.bgDone)
	t := time.NewTicker(syncGap)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.active != nil && s.dirty {
			if err := s.active.Sync(); err != nil {
				s.log.Error("spool: fsync", "err", err)
			}
			s.dirty = false
		}
		s.mu.Unlock()
	}
}

// Next returns the oldest record not yet handed out, waiting for one until
// ctx ends. The previous record must have been settled with Done first.
func (s *Spool) Next(ctx context.Context) (Record, error) {
	for {
		rec, ok, err := s.tryNext()
		if err != nil || ok {
			return rec, err
		}
		select {
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-s.notify:
		}
	}
}

// tryNext reads the next record if there is one.
func (s *Spool) tryNext() (Record, bool, error) {
	for {
		if s.rf == nil {
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				return Record{}, false, ErrClosed
			}
			if len(s.segs) == 0 || s.segs[0].records == 0 && s.active != nil && len(s.segs) == 1 {
				s.mu.Unlock()
				return Record{}, false, nil
			}
			// The reader takes the active segment too: sealing it lets
			// appends go on in a new file while this one is read.
			if len(s.segs) == 1 && s.active != nil {
				if err := s.sealLocked(); err != nil {
					s.mu.Unlock()
					return Record{}, false, err
				}
			}
			no := s.segs[0].no
			s.mu.Unlock()
			f, err := os.Open(s.path(no))
			if err != nil {
				return Record{}, false, fmt.Errorf("spool: %w", err)
			}
			s.rf, s.rseg, s.roff = f, no, int64(len(magic))
			if s.rbuf == nil {
				s.rbuf = bufio.NewReaderSize(f, 1<<16)
			} else {
				s.rbuf.Reset(f)
			}
			if _, err := s.rbuf.Discard(len(magic)); err != nil {
				s.finishSegment(false)
				continue
			}
		}
		n, rows, p, err := readRecord(s.rbuf, &s.rdata)
		if err == nil {
			s.roff += int64(n)
			return Record{Payload: p, Rows: int(rows), Seg: s.rseg, End: s.roff}, true, nil
		}
		damaged := err != io.EOF
		if damaged {
			s.log.Error("spool: damaged segment, moving the rest aside", "segment", s.path(s.rseg), "offset", s.roff, "err", err)
		}
		s.finishSegment(damaged)
	}
}

// finishSegment closes the segment being read and deletes it (or moves it
// aside when damaged): all of its records were settled before.
func (s *Spool) finishSegment(damaged bool) {
	s.rf.Close()
	s.rf = nil
	p := s.path(s.rseg)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 || s.segs[0].no != s.rseg {
		return
	}
	sg := s.segs[0]
	s.segs = s.segs[1:]
	s.size -= sg.size
	if damaged {
		s.stats.CorruptSkips++
		s.stats.Rows -= sg.rows
		s.stats.Records -= sg.records
		if err := os.Rename(p, p+badExt); err != nil {
			s.log.Error("spool: cannot move damaged segment aside", "segment", p, "err", err)
		}
		return
	}
	if err := os.Remove(p); err != nil {
		s.log.Error("spool: cannot delete replayed segment", "segment", p, "err", err)
	}
}

// Done settles the record last returned by Next: its rows are in the
// database (or were rejected there). Its segment is deleted once every
// record of it is settled.
func (s *Spool) Done(r Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.segs {
		if s.segs[i].no == r.Seg {
			s.segs[i].rows -= int64(r.Rows)
			s.segs[i].records--
			break
		}
	}
	s.stats.Rows -= int64(r.Rows)
	s.stats.Records--
	s.stats.SettledRows += uint64(r.Rows)
}

// Stats returns a snapshot of the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Bytes = s.size
	st.Segments = len(s.segs)
	return st
}

// Close fsyncs the active segment and closes the spool. What was not
// settled stays on disk for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	err := s.sealLocked()
	s.mu.Unlock()
	s.stopBG()
	<-s.bgDone
	if s.rf != nil {
		s.rf.Close()
	}
	return err
}
