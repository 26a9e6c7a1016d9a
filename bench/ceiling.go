package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ceilRows are the rows of one table, boxed for CopyFrom before timing.
type ceilRows struct {
	table string
	rows  [][]any
}

var ceilColumns = []string{"sid", "create_date", "protocol_header", "data_header", "raw"}

// loadRows reads back every row hepd stored in the SIP tables: the ceiling
// writes exactly these rows again.
func loadRows(ctx context.Context, conn *pgx.Conn, tables []string) ([]ceilRows, int, error) {
	var out []ceilRows
	total := 0
	for _, t := range tables {
		rows, err := conn.Query(ctx, "SELECT sid, create_date, protocol_header::text, data_header::text, raw FROM "+pgx.Identifier{t}.Sanitize())
		if err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", t, err)
		}
		cr := ceilRows{table: t}
		for rows.Next() {
			var sid, ph, dh, raw string
			var ts time.Time
			if err := rows.Scan(&sid, &ts, &ph, &dh, &raw); err != nil {
				rows.Close()
				return nil, 0, fmt.Errorf("read %s: %w", t, err)
			}
			// jsonb as []byte: pgx sends it verbatim, as hepd's store does.
			cr.rows = append(cr.rows, []any{sid, ts, []byte(ph), []byte(dh), raw})
		}
		if err := rows.Err(); err != nil {
			return nil, 0, fmt.Errorf("read %s: %w", t, err)
		}
		total += len(cr.rows)
		out = append(out, cr)
	}
	return out, total, nil
}

// ceilingRun writes data with CopyFrom in batches of batchRows on writers
// parallel connections (each batch is one COPY, one transaction, as hepd's
// writers do) and returns how long it took.
func ceilingRun(ctx context.Context, cfg *pgx.ConnConfig, data []ceilRows, batchRows, writers int) (time.Duration, error) {
	type job struct {
		table string
		rows  [][]any
	}
	var jobs []job
	for _, d := range data {
		for i := 0; i < len(d.rows); i += batchRows {
			jobs = append(jobs, job{d.table, d.rows[i:min(i+batchRows, len(d.rows))]})
		}
	}
	conns := make([]*pgx.Conn, writers)
	for i := range conns {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return 0, fmt.Errorf("ceiling: %w", err)
		}
		defer c.Close(context.WithoutCancel(ctx))
		conns[i] = c
	}
	ch := make(chan job)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range conns {
		wg.Go(func() {
			for j := range ch {
				if _, err := c.CopyFrom(ctx, pgx.Identifier{j.table}, ceilColumns, pgx.CopyFromRows(j.rows)); err != nil {
					errs <- fmt.Errorf("ceiling COPY into %s: %w", j.table, err)
					for range ch { // drain
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
