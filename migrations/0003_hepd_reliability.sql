-- hepd's own bookkeeping for lossless writing (hepd_* names; homer-app never
-- reads them).

-- One row per writer session (and one per disk spool): the sequence number
-- of the last batch it committed, updated in the same transaction as the
-- batch's COPY. When a connection dies while a COMMIT is in flight, hepd
-- reads the row back to learn whether that batch is in, instead of writing
-- it twice. Rows of writers gone for a week are deleted by maintenance.
CREATE TABLE IF NOT EXISTS hepd_progress (
	id         text        PRIMARY KEY,
	seq        bigint      NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- Rows the database refused for their content (invalid JSON, bad encoding,
-- a value too large ...), kept byte for byte with the reason, instead of
-- being dropped. Content columns are bytea: the bytes are exactly what made
-- the row fail. Kept as long as the SIP tables (db_drop_days).
CREATE TABLE IF NOT EXISTS hepd_rejects (
	id              bigserial   PRIMARY KEY,
	rejected_at     timestamptz NOT NULL DEFAULT now(),
	table_name      text        NOT NULL,
	reason          text        NOT NULL,
	sqlstate        text        NOT NULL DEFAULT '',
	sid             bytea       NOT NULL,
	create_date     timestamptz NOT NULL,
	protocol_header bytea       NOT NULL,
	data_header     bytea       NOT NULL,
	raw             bytea       NOT NULL
);
CREATE INDEX IF NOT EXISTS hepd_rejects_rejected_at ON hepd_rejects (rejected_at);
