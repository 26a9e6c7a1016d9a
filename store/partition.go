package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ddlLockKey serialises partition DDL between hepd nodes sharing a
// database: the bytes "hepdpart" read as a big-endian int64.
const ddlLockKey int64 = 0x6865706470617274

const day = 24 * time.Hour

// span is one partition's range [from, to) in Unix microseconds.
type span struct {
	from, to int64
	name     string
}

// partitions caches the ranges of each parent's partitions. Each table's
// slice is replaced, never modified, so a reader may use it after unlocking.
type partitions struct {
	mu    sync.RWMutex
	spans [len(tables)][]span
}

func (p *partitions) get(t int) []span {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.spans[t]
}

func (p *partitions) set(t int, s []span) {
	p.mu.Lock()
	p.spans[t] = s
	p.mu.Unlock()
}

// find returns the span holding us, if any.
func find(spans []span, us int64) (span, bool) {
	i, _ := slices.BinarySearchFunc(spans, us, func(s span, us int64) int {
		if s.to <= us {
			return -1
		}
		return 1
	})
	if i < len(spans) && spans[i].from <= us {
		return spans[i], true
	}
	return span{}, false
}

// slot returns the UTC slot of the given step that holds t. Slots never
// cross midnight: the last one of a day ends at the next 00:00.
func slot(t time.Time, step time.Duration) (from, to time.Time) {
	t = t.UTC()
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	from = d.Add(t.Sub(d) / step * step)
	to = from.Add(step)
	if next := d.Add(day); to.After(next) {
		to = next
	}
	return from, to
}

// partitionName is heplify-server's <parent>_<YYYYMMDD>_<HHMM>, from UTC.
func partitionName(parent string, from time.Time) string {
	return parent + "_" + from.UTC().Format("20060102_1504")
}

// boundLiteral carries its offset, so the bound does not depend on the
// session's time zone (which is UTC anyway, see Open).
func boundLiteral(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05") + "+00"
}

// partitionDDL appends the statements creating one partition and its
// indexes, idempotent like heplify-server's.
func partitionDDL(b *strings.Builder, t *tableDef, indexes []index, from, to time.Time) string {
	name := partitionName(t.name, from)
	fmt.Fprintf(b, "CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s');\n",
		name, t.name, boundLiteral(from), boundLiteral(to))
	for _, ix := range indexes {
		fmt.Fprintf(b, "CREATE INDEX IF NOT EXISTS %s_%s ON %s", name, ix.suffix, name)
		if ix.using != "" {
			fmt.Fprintf(b, " USING %s", ix.using)
		}
		fmt.Fprintf(b, " (%s)", ix.expr)
		if ix.with != "" {
			fmt.Fprintf(b, " WITH (%s)", ix.with)
		}
		b.WriteString(";\n")
	}
	return name
}

var boundRE = regexp.MustCompile(`FROM \((.+)\) TO \((.+)\)`)

// parseBound turns one side of pg_get_expr(relpartbound) into Unix
// microseconds. The session time zone is UTC, so literals end in +00.
func parseBound(s string) (int64, error) {
	switch s {
	case "MINVALUE":
		return math.MinInt64, nil
	case "MAXVALUE":
		return math.MaxInt64, nil
	}
	s = strings.Trim(s, "'")
	t, err := time.Parse("2006-01-02 15:04:05.999999-07", s)
	if err != nil {
		t, err = time.Parse("2006-01-02 15:04:05.999999-07:00", s)
	}
	if err != nil {
		return 0, err
	}
	return t.UnixMicro(), nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// loadSpans reads the partitions of one parent from the catalog, sorted.
func loadSpans(ctx context.Context, q querier, t *tableDef) ([]span, error) {
	rows, err := q.Query(ctx, `SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid)
		FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass`, t.name)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", t.name, err)
	}
	var spans []span
	var name, bound string
	_, err = pgx.ForEachRow(rows, []any{&name, &bound}, func() error {
		m := boundRE.FindStringSubmatch(bound)
		if m == nil {
			return nil // not a range partition we understand; leave it alone
		}
		from, err1 := parseBound(m[1])
		to, err2 := parseBound(m[2])
		if err1 != nil || err2 != nil {
			return nil
		}
		spans = append(spans, span{from: from, to: to, name: name})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", t.name, err)
	}
	slices.SortFunc(spans, bySpanStart)
	return spans, nil
}

func bySpanStart(a, b span) int { return cmp.Compare(a.from, b.from) }

// gaps returns the parts of [from, to) that no span covers.
func gaps(spans []span, from, to int64) [][2]int64 {
	var out [][2]int64
	cur := from
	for _, s := range spans {
		if s.to <= cur || s.from >= to {
			continue
		}
		if s.from > cur {
			out = append(out, [2]int64{cur, s.from})
		}
		cur = max(cur, s.to)
		if cur >= to {
			break
		}
	}
	if cur < to {
		out = append(out, [2]int64{cur, to})
	}
	return out
}

// partitionIndexes returns the indexes of a new partition of table t on a
// server of the given major version.
func (s *Store) partitionIndexes(t, major int) []index {
	if s.leanWithoutBloom(major) {
		return tables[t].leanNoBloom
	}
	return s.cfg.indexes[t]
}

// leanWithoutBloom reports whether the lean profile must give the users
// hash indexes on a server of the given major version (0: unknown, taken
// as recent).
func (s *Store) leanWithoutBloom(major int) bool {
	return s.cfg.IndexProfile == ProfileLean && major > 0 && major < bloomMajor
}

// serverMajor returns the major version of the server conn is connected
// to, from the server_version it reports when the session starts, or 0.
func serverMajor(conn *pgx.Conn) int {
	return majorVersion(conn.PgConn().ParameterStatus("server_version"))
}

// majorVersion returns the leading number of a server_version such as
// "15.18 (Debian 15.18-0+deb12u1)" or "9.6.24", or 0.
func majorVersion(v string) int {
	n := 0
	for _, c := range []byte(v) {
		if c < '0' || c > '9' || n > 1000 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// createPartitions makes sure the slots starting at the given times exist
// for table t. It re-reads the catalog under the DDL lock, so another node's
// partitions are seen, and fills only the uncovered parts of each slot (a
// slot partly covered by partitions of an older step is completed, not
// duplicated). It returns the number of partitions created.
func (s *Store) createPartitions(ctx context.Context, conn *pgx.Conn, t int, slots []time.Time) (int, error) {
	td := &tables[t]
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // after Commit it is a no-op
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey); err != nil {
		return 0, err
	}
	spans, err := loadSpans(ctx, tx, td)
	if err != nil {
		return 0, err
	}
	indexes := s.partitionIndexes(t, serverMajor(conn))
	var b strings.Builder
	var names []string
	for _, from := range slots {
		f, to := slot(from, s.cfg.step[t])
		for _, g := range gaps(spans, f.UnixMicro(), to.UnixMicro()) {
			gf, gt := time.UnixMicro(g[0]), time.UnixMicro(g[1])
			name := partitionDDL(&b, td, indexes, gf, gt)
			names = append(names, name)
			spans = append(spans, span{from: g[0], to: g[1], name: name})
			slices.SortFunc(spans, bySpanStart)
		}
	}
	if len(names) > 0 {
		if _, err := tx.Exec(ctx, b.String()); err != nil {
			return 0, fmt.Errorf("create partitions of %s: %w", td.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	s.parts.set(t, spans)
	if len(names) > 0 {
		s.stats.partitionsCreated.Add(uint64(len(names)))
		s.log.Debug("store: partitions created", "table", td.name, "count", len(names), "first", names[0])
	}
	return len(names), nil
}

// ensureDays creates the slots of the UTC days [first, first+n) for every
// table.
func (s *Store) ensureDays(ctx context.Context, conn *pgx.Conn, first time.Time, n int) error {
	d0 := first.UTC().Truncate(day)
	for t := range tables {
		var slots []time.Time
		for at := d0; at.Before(d0.AddDate(0, 0, n)); at = at.Add(s.cfg.step[t]) {
			slots = append(slots, at)
		}
		if _, err := s.createPartitions(ctx, conn, t, slots); err != nil {
			return err
		}
	}
	return nil
}

// retentionCutoff is the start of the oldest kept day: heplify-server keeps
// today plus days-1 previous days.
func retentionCutoff(now time.Time, days int) time.Time {
	return now.UTC().Truncate(day).AddDate(0, 0, -(days - 1))
}

// dropExpired drops the partitions of table t that end at or before the
// retention cutoff, each in its own short transaction: dropping a partition
// locks the parent, which would stall the writers for the whole list.
func (s *Store) dropExpired(ctx context.Context, conn *pgx.Conn, t int, now time.Time) error {
	days := s.cfg.retention[t]
	if days < 0 {
		return nil
	}
	td := &tables[t]
	cutoff := retentionCutoff(now, days).UnixMicro()
	spans, err := loadSpans(ctx, conn, td)
	if err != nil {
		return err
	}
	for _, sp := range spans {
		if sp.to > cutoff {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "DROP TABLE IF EXISTS "+pgx.Identifier{sp.name}.Sanitize())
			return err
		})
		if err != nil {
			return fmt.Errorf("drop partition %s: %w", sp.name, err)
		}
		s.stats.partitionsDropped.Add(1)
		s.log.Info("store: partition dropped (retention)", "partition", sp.name, "days", days)
	}
	spans, err = loadSpans(ctx, conn, td)
	if err != nil {
		return err
	}
	s.parts.set(t, spans)
	return nil
}
