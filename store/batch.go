package store

import (
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5/pgtype"
)

// batch holds rows of one table in a single byte arena: Add appends the
// fields, so steady-state batching allocates nothing per row.
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

// rowRef locates a row's fields in buf: each field ends where the next one
// starts, and the first starts where the previous row's raw ended.
type rowRef struct {
	us                  int64 // create_date, Unix microseconds (PostgreSQL's precision)
	sid, ph, dh, rawEnd uint32
}

func (b *batch) add(r *Row) {
	b.buf = append(b.buf, r.SID...)
	sid := uint32(len(b.buf))
	b.buf = append(b.buf, r.ProtocolHeader...)
	ph := uint32(len(b.buf))
	b.buf = append(b.buf, r.DataHeader...)
	dh := uint32(len(b.buf))
	b.buf = append(b.buf, r.Raw...)
	b.rows = append(b.rows, rowRef{us: r.CreateDate.UnixMicro(), sid: sid, ph: ph, dh: dh, rawEnd: uint32(len(b.buf))})
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
	var start uint32
	if i > 0 {
		start = b.rows[i-1].rawEnd
	}
	r := &b.rows[i]
	// Full slice expressions: pgx must not be able to append into the arena.
	return b.buf[start:r.sid:r.sid], b.buf[r.sid:r.ph:r.ph], b.buf[r.ph:r.dh:r.dh], b.buf[r.dh:r.rawEnd:r.rawEnd]
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

// copySource feeds COPY from a batch (pgx.CopyFromSource). It is reused for
// every batch of one writer, and Values returns the same slice each time.
type copySource struct {
	b    *batch
	sel  []int32
	i    int
	sid  textField
	raw  textField
	ts   timeField
	vals [5]any
}

func newCopySource() *copySource {
	c := &copySource{}
	// Pointers fit in an interface without an allocation; pgx encodes them
	// through the TextValuer and TimestamptzValuer interfaces.
	c.vals[0], c.vals[1], c.vals[4] = &c.sid, &c.ts, &c.raw
	return c
}

func (c *copySource) reset(b *batch, sel []int32) *copySource {
	c.b, c.sel, c.i = b, sel, -1
	return c
}

func (c *copySource) Next() bool {
	c.i++
	return c.i < len(c.sel)
}

func (c *copySource) Values() ([]any, error) {
	i := c.sel[c.i]
	sid, ph, dh, raw := c.b.fields(i)
	c.sid.b, c.raw.b, c.ts.us = sid, raw, c.b.rows[i].us
	// jsonb: pgx's JSON codec copies a []byte verbatim after the version
	// byte (TestJSONRoundTrip checks it). Boxing the slice header is the one
	// small allocation per field left on this path.
	c.vals[2], c.vals[3] = ph, dh
	return c.vals[:], nil
}

func (c *copySource) Err() error { return nil }

// copyColumns is the column list of every COPY, as heplify-server's.
var copyColumns = []string{"sid", "create_date", "protocol_header", "data_header", "raw"}

// textField presents arena bytes as a varchar value without copying.
type textField struct{ b []byte }

// TextValue implements pgtype.TextValuer. The string aliases the arena; pgx
// appends it to its buffer at once and keeps no reference.
func (f *textField) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: unsafe.String(unsafe.SliceData(f.b), len(f.b)), Valid: true}, nil
}

type timeField struct{ us int64 }

// TimestamptzValue implements pgtype.TimestamptzValuer.
func (f *timeField) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: time.UnixMicro(f.us), Valid: true}, nil
}
