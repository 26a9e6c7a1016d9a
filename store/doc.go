// Package store writes Homer 7 rows into PostgreSQL and keeps the tables'
// partitions in step with time.
//
// It owns the connections to the data database, the per-table batches and
// their COPY writers, partition creation and retention drops. It knows
// nothing of HEP, SIP or sockets: a Row arrives already routed to its table
// with its JSON headers built.
//
// # Writing
//
// Add copies each row into an arena-backed batch of its table. A batch is
// written with one COPY into the parent table when it reaches
// Config.BatchRows rows or Config.FlushInterval after the last flush, by one
// of Config.Writers connections. Add never drops a row.
//
// When a write fails for any reason but the rows' content (the database is
// unreachable, restarting, refusing the schema), the batch goes to the disk
// spool (Config.SpoolDir, package spool) and the next batches follow it there
// without trying the database, until a write succeeds again. A replayer
// writes the spool back in order over its own connection while new batches
// keep flowing. While MaxPending rows wait in memory, AddUnpausable (for
// readers that cannot wait, UDP) spills the newest sealed batches to the
// spool, and Add blocks. Without a spool, or with a full one, batches stay
// in memory and are retried with backoff, and both block at MaxPending.
//
// Each COPY commits in one transaction with the writer's row in
// hepd_progress, sent as one query; after a connection lost before the
// answer the row tells whether the batch is in, so no batch is written twice. Replayed batches record
// their spool position there the same way.
//
// When a COPY fails because of the data (invalid JSON, invalid UTF-8, a NUL
// byte), the batch is split to isolate the offending rows: they are kept in
// the hepd_rejects table (or the spool folder's rejects file), logged
// (rate-limited) and counted in Stats.RowsRejected, and the rest of the
// batch is committed.
//
// # Partitions
//
// Every parent table is range-partitioned by create_date into slots of the
// table family's step, named <parent>_<YYYYMMDD>_<HHMM> with UTC names and
// UTC bounds whatever the process or database time zone, each with the
// per-partition indexes of homer-schema.md §2.3 named <partition>_<suffix>
// (Config.IndexProfile "lean": a hash index on sid and a BRIN index on
// create_date that, for SIP and ISUP, also holds bloom filters of the
// users, which hepd summarises itself, every Config.SummarizeInterval, for
// the partitions it wrote; see tables.go and brin.go).
// Open creates the slots of yesterday, today, tomorrow and the day after;
// the maintenance loop keeps creating ahead and drops partitions that ended
// before the retention cutoff (today's 00:00 UTC minus RetentionDays-1 days,
// as heplify-server does, but judged by bounds rather than names).
//
// A row whose create_date falls in no partition does not fail its batch:
// before each COPY the rows' slots are checked against the known partitions
// and missing ones are created on demand. A partition created that way for a
// time already older than the retention cutoff is dropped again by the next
// maintenance round, with its rows.
//
// All DDL runs under one transaction-scoped advisory lock, so several hepd
// nodes may share a database.
package store
