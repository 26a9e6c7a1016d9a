package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
	"unsafe"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// ceilRows are the rows of one table in one pointer-free arena, as hepd's
// store keeps its batches: a million rows as five million boxed values
// made the Go GC of this process the ceiling's bottleneck.
type ceilRows struct {
	table string
	buf   []byte
	rows  []ceilRef
}

// ceilRef locates one row's fields in buf; each field ends where the next
// starts, the first starts where the previous row's raw ended.
type ceilRef struct {
	us                  int64
	sid, ph, dh, rawEnd int
}

var ceilColumns = []string{"sid", "create_date", "protocol_header", "data_header", "raw"}

// loadRows reads back every row hepd stored in the SIP tables, in the
// order hepd inserted them: the ceiling writes exactly these rows again.
func loadRows(ctx context.Context, conn *pgx.Conn, tables []string) ([]ceilRows, error) {
	var out []ceilRows
	for _, t := range tables {
		rows, err := conn.Query(ctx, "SELECT sid, create_date, protocol_header::text, data_header::text, raw FROM "+pgx.Identifier{t}.Sanitize()+" ORDER BY id")
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", t, err)
		}
		cr := ceilRows{table: t}
		for rows.Next() {
			// RawValues of the text format: sid, ph, dh and raw are the
			// bytes to send; the time is parsed once.
			var ts time.Time
			if err := rows.Scan(nil, &ts, nil, nil, nil); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read %s: %w", t, err)
			}
			v := rows.RawValues()
			var r ceilRef
			r.us = ts.UnixMicro()
			cr.buf = append(cr.buf, v[0]...)
			r.sid = len(cr.buf)
			cr.buf = append(cr.buf, v[2]...)
			r.ph = len(cr.buf)
			cr.buf = append(cr.buf, v[3]...)
			r.dh = len(cr.buf)
			cr.buf = append(cr.buf, v[4]...)
			r.rawEnd = len(cr.buf)
			cr.rows = append(cr.rows, r)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", t, err)
		}
		out = append(out, cr)
	}
	return out, nil
}

// ceilSource feeds CopyFrom rows [lo, hi) of a table, reusing its values as
// hepd's copySource does.
type ceilSource struct {
	d        *ceilRows
	i, hi    int
	sid, raw textField
	ts       timeField
	vals     [5]any
}

func newCeilSource() *ceilSource {
	c := &ceilSource{}
	c.vals[0], c.vals[1], c.vals[4] = &c.sid, &c.ts, &c.raw
	return c
}

func (c *ceilSource) reset(d *ceilRows, lo, hi int) *ceilSource {
	c.d, c.i, c.hi = d, lo-1, hi
	return c
}

func (c *ceilSource) Next() bool { c.i++; return c.i < c.hi }

func (c *ceilSource) Values() ([]any, error) {
	r := &c.d.rows[c.i]
	start := 0
	if c.i > 0 {
		start = c.d.rows[c.i-1].rawEnd
	}
	b := c.d.buf
	c.sid.b, c.raw.b, c.ts.us = b[start:r.sid:r.sid], b[r.dh:r.rawEnd:r.rawEnd], r.us
	c.vals[2], c.vals[3] = b[r.sid:r.ph:r.ph], b[r.ph:r.dh:r.dh]
	return c.vals[:], nil
}

func (c *ceilSource) Err() error { return nil }

type textField struct{ b []byte }

func (f *textField) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: unsafe.String(unsafe.SliceData(f.b), len(f.b)), Valid: true}, nil
}

type timeField struct{ us int64 }

func (f *timeField) TimestamptzValue() (pgtype.Timestamptz, error) {
	return pgtype.Timestamptz{Time: time.UnixMicro(f.us), Valid: true}, nil
}

// Orders in which the ceiling writes its batches (-ceiling-order).
const (
	// orderArrival interleaves the tables' batches as hepd's traffic
	// does: by the capture time of their last row, which is when hepd's
	// batch of that table filled up and was flushed.
	orderArrival = "arrival"
	// orderTable writes one table's batches after the other's. PostgreSQL
	// then keeps one table's indexes hot at a time, which the interleaved
	// traffic of a capture server never allows.
	orderTable = "table"
)

type ceilJob struct {
	d      *ceilRows
	lo, hi int
}

// ceilJobs cuts data into batches of batchRows, in order.
func ceilJobs(data []ceilRows, batchRows int, order string) []ceilJob {
	var jobs []ceilJob
	for t := range data {
		d := &data[t]
		for i := 0; i < len(d.rows); i += batchRows {
			jobs = append(jobs, ceilJob{d, i, min(i+batchRows, len(d.rows))})
		}
	}
	if order == orderArrival {
		slices.SortStableFunc(jobs, func(a, b ceilJob) int {
			return cmp.Compare(a.d.rows[a.hi-1].us, b.d.rows[b.hi-1].us)
		})
	}
	return jobs
}

// ceilingRun writes data with CopyFrom in batches of batchRows on writers
// parallel connections (each batch is one COPY, one transaction, as hepd's
// writers do), in the given order, and returns how long it took.
func ceilingRun(ctx context.Context, cfg *pgx.ConnConfig, data []ceilRows, batchRows, writers int, order string) (time.Duration, error) {
	jobs := ceilJobs(data, batchRows, order)
	conns := make([]*pgx.Conn, writers)
	for i := range conns {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return 0, fmt.Errorf("ceiling: %w", err)
		}
		defer c.Close(context.WithoutCancel(ctx))
		conns[i] = c
	}
	ch := make(chan ceilJob)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			src := newCeilSource()
			for j := range ch {
				if _, err := c.CopyFrom(ctx, pgx.Identifier{j.d.table}, ceilColumns, src.reset(j.d, j.lo, j.hi)); err != nil {
					errs <- fmt.Errorf("ceiling COPY into %s: %w", j.d.table, err)
					for range ch { // let the others finish
					}
					return
				}
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	el := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return el, nil
}
