-- Views for people writing SQL by hand: typed columns instead of JSON paths.
-- hepd's own names (hepd_*); homer-app never reads them.

CREATE OR REPLACE VIEW hepd_sip AS
SELECT profile, id, create_date, sid,
	data_header->>'method'           AS method,
	data_header->>'cseq'             AS cseq,
	data_header->>'from_user'        AS from_user,
	data_header->>'to_user'          AS to_user,
	data_header->>'ruri_user'        AS ruri_user,
	data_header->>'ruri_domain'      AS ruri_domain,
	protocol_header->>'srcIp'        AS src_ip,
	(protocol_header->>'srcPort')::int AS src_port,
	protocol_header->>'dstIp'        AS dst_ip,
	(protocol_header->>'dstPort')::int AS dst_port,
	protocol_header->>'captureId'    AS capture_id,
	protocol_header->>'correlation_id' AS correlation_id,
	data_header->>'user_agent'       AS user_agent,
	raw
FROM (
	SELECT 'call'::text AS profile, * FROM hep_proto_1_call
	UNION ALL
	SELECT 'registration'::text, * FROM hep_proto_1_registration
	UNION ALL
	SELECT 'default'::text, * FROM hep_proto_1_default
) AS sip;

CREATE OR REPLACE VIEW hepd_log AS
SELECT id, create_date, sid,
	protocol_header->>'srcIp'        AS src_ip,
	(protocol_header->>'srcPort')::int AS src_port,
	protocol_header->>'dstIp'        AS dst_ip,
	(protocol_header->>'dstPort')::int AS dst_port,
	protocol_header->>'captureId'    AS capture_id,
	raw
FROM hep_proto_100_default;

CREATE OR REPLACE VIEW hepd_rtcp AS
SELECT id, create_date, sid,
	protocol_header->>'srcIp'        AS src_ip,
	(protocol_header->>'srcPort')::int AS src_port,
	protocol_header->>'dstIp'        AS dst_ip,
	(protocol_header->>'dstPort')::int AS dst_port,
	protocol_header->>'captureId'    AS capture_id,
	raw
FROM hep_proto_5_default;
