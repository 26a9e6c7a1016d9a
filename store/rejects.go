package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RejectsFile is the file in the spool folder that takes rejected rows
// when the hepd_rejects table cannot.
const RejectsFile = "rejects.jsonl"

// reject keeps a row the database refused for its content: in the
// hepd_rejects table with the reason, or, if that insert fails too, as a
// JSON line in the spool folder's rejects file, or at least in the log.
// Rows are never dropped silently. m, when not nil, is committed with the
// insert (or saved after the file's line).
func (w *writer) reject(b *batch, i int32, cause error, m *mark) {
	s := w.s
	s.stats.rejected.Add(1)
	sid, ph, dh, raw := b.fields(i)
	tbl := tables[b.table].name
	created := time.UnixMicro(b.rows[i].us).UTC()
	var code string
	var pgErr *pgconn.PgError
	if errors.As(cause, &pgErr) {
		code = pgErr.Code
	}
	s.rlog.Log(slog.LevelWarn, "reject:"+tbl, "store: row rejected by the database, kept in hepd_rejects",
		"table", tbl, "sid", string(sid[:min(len(sid), 128)]), "create_date", created, "err", cause)

	err := w.connect()
	if err == nil {
		// One batch is one implicit transaction: the mark commits with
		// the row or not at all.
		var q pgx.Batch
		q.Queue(`INSERT INTO hepd_rejects
			(table_name, reason, sqlstate, sid, create_date, protocol_header, data_header, raw)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			tbl, cause.Error(), code, sid, created, ph, dh, raw)
		if m != nil {
			q.Queue(string(appendMarkSQL(nil, *m)))
		}
		err = w.conn.SendBatch(w.ctx, &q).Close()
		if err == nil {
			s.stats.rejectsStored.Add(1)
			return
		}
	}
	if m != nil {
		defer w.saveMark(*m)
	}
	line, _ := json.Marshal(struct {
		At             time.Time `json:"rejected_at"`
		Table          string    `json:"table_name"`
		Reason         string    `json:"reason"`
		SQLState       string    `json:"sqlstate"`
		SID            []byte    `json:"sid"`
		CreateDate     time.Time `json:"create_date"`
		ProtocolHeader []byte    `json:"protocol_header"`
		DataHeader     []byte    `json:"data_header"`
		Raw            []byte    `json:"raw"`
	}{time.Now().UTC(), tbl, cause.Error(), code, sid, created, ph, dh, raw})
	if ferr := s.appendRejectFile(append(line, '\n')); ferr != nil {
		s.log.Error("store: rejected row could be kept neither in hepd_rejects nor in a file; here it is",
			"table_insert_err", err, "file_err", ferr, "row_json_base64_fields", string(line))
		return
	}
	s.stats.rejectsFiled.Add(1)
}

func (s *Store) appendRejectFile(line []byte) error {
	if s.cfg.SpoolDir == "" {
		return errors.New("no spool folder configured")
	}
	s.rejectMu.Lock()
	defer s.rejectMu.Unlock()
	f, err := os.OpenFile(filepath.Join(s.cfg.SpoolDir, RejectsFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("rejects file: %w", err)
	}
	return nil
}

// pruneBookkeeping deletes hepd_rejects rows older than the SIP retention
// and the progress rows of writers gone for a week.
func (s *Store) pruneBookkeeping(ctx context.Context) error {
	conn := s.maintConn
	if _, err := conn.Exec(ctx, "DELETE FROM hepd_progress WHERE updated_at < now() - interval '7 days'"); err != nil {
		return fmt.Errorf("prune hepd_progress: %w", err)
	}
	if days := s.cfg.retention[tDefault]; days > 0 {
		cutoff := retentionCutoff(time.Now(), days)
		if _, err := conn.Exec(ctx, "DELETE FROM hepd_rejects WHERE rejected_at < $1", cutoff); err != nil {
			return fmt.Errorf("prune hepd_rejects: %w", err)
		}
	}
	return nil
}
