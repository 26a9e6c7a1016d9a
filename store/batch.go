package store

import (
	"encoding/binary"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// batch holds rows of one table in a single byte arena, each row already
// a tuple of PostgreSQL's binary COPY format: Add appends the fields with
// their length words, and the writer sends the arena as it is. Steady-state
// batching allocates nothing per row and encodes nothing at write time.
type batch struct {
	table   int
	buf     []byte
	rows    []rowRef
	started time.Time // first row added
	sealed  time.Time // handed to the writers
	sel     []int32   // scratch for the writer: rows of the current attempt
	marks   []addMark // when each Add call's rows arrived, for the latency histogram
}

// addMark says that rows from index row on (up to the next mark) were
// handed to Store.Add at the Unix nanosecond at. One mark per Add call and
// batch, not per row: the pipeline adds a socket read's records at once.
type addMark struct {
	row int32
	at  int64
}

// rowRef locates a row's tuple in buf. The tuple starts where the previous
// row's ends:
//
//	int16 5                                  fields
//	int32 len, sid                           varchar
//	int32 8, int64 µs since 2000-01-01 UTC   timestamptz
//	int32 len+1, 1, protocol_header          jsonb (version 1, then text)
//	int32 len+1, 1, data_header              jsonb
//	int32 len, raw                           varchar
//
// sidEnd, phEnd and dhEnd are where those fields' bytes end, end where the
// tuple (raw) ends.
type rowRef struct {
	us                        int64 // create_date, Unix microseconds (PostgreSQL's precision)
	sidEnd, phEnd, dhEnd, end uint32
}

// pgEpochUS is 2000-01-01 00:00:00 UTC, PostgreSQL's epoch, in Unix µs.
const pgEpochUS = 946684800000000

func (b *batch) add(r *Row) {
	b.addFields(r.CreateDate.UnixMicro(), r.SID, r.ProtocolHeader, r.DataHeader, r.Raw)
}

func (b *batch) addFields(us int64, sid, ph, dh, raw []byte) {
	n := len(b.buf)
	need := 2 + 4 + len(sid) + 4 + 8 + 5 + len(ph) + 5 + len(dh) + 4 + len(raw)
	b.buf = slices.Grow(b.buf, need)[:n+need]
	t := b.buf[n:]
	be := binary.BigEndian
	be.PutUint16(t, 5)
	be.PutUint32(t[2:], uint32(len(sid)))
	o := 6 + copy(t[6:], sid)
	sidEnd := n + o
	be.PutUint32(t[o:], 8)
	be.PutUint64(t[o+4:], uint64(us-pgEpochUS))
	o += 12
	be.PutUint32(t[o:], uint32(len(ph)+1))
	t[o+4] = 1
	o += 5 + copy(t[o+5:], ph)
	phEnd := n + o
	be.PutUint32(t[o:], uint32(len(dh)+1))
	t[o+4] = 1
	o += 5 + copy(t[o+5:], dh)
	dhEnd := n + o
	be.PutUint32(t[o:], uint32(len(raw)))
	copy(t[o+4:], raw)
	b.rows = append(b.rows, rowRef{us: us, sidEnd: uint32(sidEnd), phEnd: uint32(phEnd), dhEnd: uint32(dhEnd), end: uint32(len(b.buf))})
}

// start is where row i's tuple begins.
func (b *batch) start(i int32) uint32 {
	if i == 0 {
		return 0
	}
	return b.rows[i-1].end
}

// mark records that the next row added arrives at addNS, unless the same
// Add call has marked this batch already.
func (b *batch) mark(addNS int64) {
	if n := len(b.marks); n == 0 || b.marks[n-1].at != addNS {
		b.marks = append(b.marks, addMark{row: int32(len(b.rows)), at: addNS})
	}
}

// observeCommitted adds, for the committed rows sel (ascending), the time
// from their Add to now to h.
func (b *batch) observeCommitted(h *latencyHist, sel []int32, now int64) {
	if len(b.marks) == 0 {
		return
	}
	if len(sel) == len(b.rows) { // the whole batch: one step per mark
		for m, mk := range b.marks {
			end := int32(len(b.rows))
			if m+1 < len(b.marks) {
				end = b.marks[m+1].row
			}
			h.observe(time.Duration(now-mk.at), int(end-mk.row))
		}
		return
	}
	m, run := 0, 0
	for _, i := range sel {
		for m+1 < len(b.marks) && b.marks[m+1].row <= i {
			if run > 0 {
				h.observe(time.Duration(now-b.marks[m].at), run)
			}
			m, run = m+1, 0
		}
		run++
	}
	if run > 0 {
		h.observe(time.Duration(now-b.marks[m].at), run)
	}
}

func (b *batch) fields(i int32) (sid, ph, dh, raw []byte) {
	r := &b.rows[i]
	// Full slice expressions: nobody may append into the arena.
	sid = b.buf[b.start(i)+6 : r.sidEnd : r.sidEnd]
	ph = b.buf[r.sidEnd+17 : r.phEnd : r.phEnd]
	dh = b.buf[r.phEnd+5 : r.dhEnd : r.dhEnd]
	raw = b.buf[r.dhEnd+4 : r.end : r.end]
	return sid, ph, dh, raw
}

func (b *batch) reset() {
	b.buf, b.rows, b.sel, b.marks = b.buf[:0], b.rows[:0], b.sel[:0], b.marks[:0]
}

// all fills sel with every row index.
func (b *batch) all() []int32 {
	b.sel = b.sel[:0]
	for i := range b.rows {
		b.sel = append(b.sel, int32(i))
	}
	return b.sel
}

// copyHeader starts a binary COPY stream: signature, flags, extension
// length.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyTrailer ends it: a field count of -1.
var copyTrailer = []byte{0xff, 0xff}

// copyReader streams the rows sel of a batch as a binary COPY (an
// io.Reader for pgconn.CopyFrom): the header, the selected rows' tuples
// straight from the arena, consecutive rows in one piece, and the trailer.
// One is reused for every batch of a writer.
type copyReader struct {
	b     *batch
	sel   []int32
	i     int    // next index into sel
	part  []byte // what is left of the current piece
	state int    // 0 header, 1 rows, 2 trailer, 3 done
}

func (c *copyReader) reset(b *batch, sel []int32) *copyReader {
	c.b, c.sel, c.i, c.part, c.state = b, sel, 0, copyHeader, 0
	return c
}

func (c *copyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(c.part) == 0 && !c.nextPart() {
			if n == 0 {
				return 0, io.EOF
			}
			break
		}
		k := copy(p[n:], c.part)
		c.part = c.part[k:]
		n += k
	}
	return n, nil
}

// copyAttempt hands one CopyFrom call its rows. pgconn reads them on a
// goroutine of its own, which it does not wait for when the connection
// fails mid-COPY: end cuts that goroutine off (its next Read finds nothing)
// and returns once no Read is running, so the batch may be reused or reset
// and the writer's copyReader handed to the next attempt.
type copyAttempt struct {
	mu  sync.Mutex
	src *copyReader
}

func (a *copyAttempt) Read(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.src == nil {
		return 0, io.EOF
	}
	return a.src.Read(p)
}

func (a *copyAttempt) end() {
	a.mu.Lock()
	a.src = nil
	a.mu.Unlock()
}

// nextPart moves to the next piece; false at the end of the stream.
func (c *copyReader) nextPart() bool {
	switch c.state {
	case 0:
		c.state = 1
		fallthrough
	case 1:
		if c.i < len(c.sel) {
			first := c.sel[c.i]
			last := first
			for c.i++; c.i < len(c.sel) && c.sel[c.i] == last+1; c.i++ {
				last++
			}
			c.part = c.b.buf[c.b.start(first):c.b.rows[last].end]
			return true
		}
		c.state, c.part = 2, copyTrailer
		return true
	}
	c.state = 3
	return false
}

// copySQL is the statement of each table's COPY, column list as
// heplify-server's.
var copySQL = func() (q [len(tables)]string) {
	for i, t := range tables {
		q[i] = "COPY " + pgx.Identifier{t.name}.Sanitize() + " (sid, create_date, protocol_header, data_header, raw) FROM STDIN WITH (FORMAT binary)"
	}
	return q
}()
