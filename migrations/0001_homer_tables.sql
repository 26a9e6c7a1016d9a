-- The Homer 7 data tables, exactly as heplify-server creates them (see
-- homer-schema.md §2): same names, columns, types and defaults, range
-- partitioned by create_date, no default partition. hep_proto_53_default
-- (DNS) is created too; heplify-server forgets it.

CREATE TABLE IF NOT EXISTS hep_proto_1_call (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);

CREATE TABLE IF NOT EXISTS hep_proto_1_registration (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);

CREATE TABLE IF NOT EXISTS hep_proto_1_default (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);

CREATE TABLE IF NOT EXISTS hep_proto_5_default (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);

CREATE TABLE IF NOT EXISTS hep_proto_35_default (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);

CREATE TABLE IF NOT EXISTS hep_proto_53_default (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);

CREATE TABLE IF NOT EXISTS hep_proto_54_default (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);

CREATE TABLE IF NOT EXISTS hep_proto_100_default (
	id              bigserial   NOT NULL,
	sid             varchar     NOT NULL,
	create_date     timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP,
	protocol_header jsonb       NOT NULL,
	data_header     jsonb       NOT NULL,
	raw             varchar     NOT NULL
) PARTITION BY RANGE (create_date);
