package store

import "slices"

// family groups tables that share a partition step (Homer's DBPart* settings).
type family int

const (
	famSIP family = iota
	famQoS
	famLog
	famISUP
	famDNS
)

type index struct {
	suffix string // appended to the partition name
	expr   string // indexed expression, or columns
	using  string // access method; empty is btree
	with   string // storage parameters, if any
}

var (
	// The per-partition indexes of homer-schema.md §2.3, with heplify-server's
	// names (PostgreSQL folds its unquoted "srcIp" to "srcip").
	commonIndexes = []index{
		{suffix: "create_date", expr: "create_date"},
		{suffix: "sid", expr: "sid"},
		{suffix: "srcip", expr: "(protocol_header->>'srcIp')"},
		{suffix: "dstip", expr: "(protocol_header->>'dstIp')"},
		{suffix: "correlation_id", expr: "(protocol_header->>'correlation_id')"},
	}
	sipIndexes = append(slices.Clip(commonIndexes),
		index{suffix: "ruri_domain", expr: "(data_header->>'ruri_domain')"},
		index{suffix: "ruri_user", expr: "(data_header->>'ruri_user')"},
		index{suffix: "from_user", expr: "(data_header->>'from_user')"},
		index{suffix: "to_user", expr: "(data_header->>'to_user')"},
		index{suffix: "pid_user", expr: "(data_header->>'pid_user')"},
		index{suffix: "auth_user", expr: "(data_header->>'auth_user')"},
		index{suffix: "callid", expr: "(data_header->>'callid')"},
		index{suffix: "method", expr: "(data_header->>'method')"},
	)
	isupIndexes = []index{
		{suffix: "create_date", expr: "create_date"},
		{suffix: "sid", expr: "sid"},
		{suffix: "correlation_id", expr: "(protocol_header->>'correlation_id')"},
		{suffix: "called_number", expr: "(data_header->>'called_number')"},
		{suffix: "calling_number", expr: "(data_header->>'calling_number')"},
		{suffix: "opc", expr: "(data_header->>'opc')"},
		{suffix: "dpc", expr: "(data_header->>'dpc')"},
		{suffix: "cic", expr: "(data_header->>'cic')"},
		{suffix: "msg_name", expr: "(data_header->>'msg_name')"},
		{suffix: "callid", expr: "(data_header->>'callid')"},
	}
)

// Index profiles (Config.IndexProfile).
const (
	ProfileHomer = "homer" // Homer 7's per-partition indexes
	ProfileLean  = "lean"  // the few homer-app needs most; see the README
)

// IndexProfiles returns the names Config.IndexProfile accepts.
func IndexProfiles() []string { return []string{ProfileHomer, ProfileLean} }

// The lean profile keeps what homer-app's common searches hit inside a time
// range: the call flow and Call-ID search (sid), the time range itself
// (create_date) and, for SIP, the user searches (from_user, to_user). Every
// other search still works, by scanning the partitions of its time range.
//
// It also picks cheaper kinds of index than Homer's B-trees, because
// homer-app asks these columns for nothing a B-tree alone can answer: it
// searches a time range with a LIMIT and no ORDER BY, and it looks up sid
// and users by =, IN and = ANY.
//
//   - sid gets a hash index: a 4-byte entry per row instead of a copy of the
//     key, and one bucket to read. Opening a call looks up its sids, so
//     they stay exact.
//   - create_date gets a BRIN index: a few bytes per block range of rows,
//     which arrive in time order, narrow a time range to its blocks. For
//     SIP and ISUP, the same index also holds a bloom filter of each range's
//     users (numbers): a search by user reads the filters of its time range
//     and then only the ranges whose filter may hold the user. A row costs
//     such an index next to nothing as it is inserted: a range is summarised
//     once, after it filled, in one pass over its blocks for all its
//     columns. The hash indexes on the users it replaces took a random
//     bucket page and a WAL record per row each: with them, a server-side
//     COPY of 350,000 of hepd's rows took ~1.18 times as long (median of
//     six pairs, summarising included; see the README).
//
// A BRIN index knows nothing of the block ranges filled since it was last
// summarised (a search reads them all), so hepd summarises the partitions
// it wrote every Config.SummarizeInterval (see brin.go); autosummarize would
// leave it to autovacuum's queue of 256 requests, one per range.
//
// The SIP and ISUP ranges are 32 pages (256 KB): a bloom filter sized for
// 400 distinct values at a 1% false-positive rate is ~480 bytes, so the
// index is ~0.4% of its table's size, and a false positive costs reading
// 256 KB. A range holds ~230 rows of 1.1 KB, and fewer distinct users, so
// the filters are rarely near their design size, where their false
// positives are ~1%.
var (
	leanCommon = []index{
		{suffix: "create_date", expr: "create_date", using: "brin"},
		{suffix: "sid", expr: "sid", using: "hash"},
	}
	leanSIP         = leanUsers(true, "from_user", "to_user")
	leanISUP        = leanUsers(true, "called_number", "calling_number")
	leanSIPNoBloom  = leanUsers(false, "from_user", "to_user")
	leanISUPNoBloom = leanUsers(false, "called_number", "calling_number")
)

// bloomMajor is the first PostgreSQL major version with BRIN bloom filters.
// Before it, the lean profile gives the users hash indexes, as hepd did
// before it used bloom filters (see createPartitions).
const bloomMajor = 14

// leanUsers returns the lean set of a table searched by the given
// data_header keys: with bloom, as bloom filters in the BRIN index on
// create_date, in ranges of 32 pages; without, as hash indexes of their
// own. The BRIN index keeps the create_date suffix either way, as it leads
// with that column: partitions of earlier versions, with their BRIN index
// on create_date alone, are summarised by the same name.
func leanUsers(bloom bool, keys ...string) []index {
	if !bloom {
		ixs := slices.Clone(leanCommon)
		for _, k := range keys {
			ixs = append(ixs, index{suffix: k, expr: "(data_header->>'" + k + "')", using: "hash"})
		}
		return ixs
	}
	cols := "create_date"
	for _, k := range keys {
		cols += ", (data_header->>'" + k + "') text_bloom_ops(n_distinct_per_range = 400, false_positive_rate = 0.01)"
	}
	return []index{
		{suffix: "create_date", expr: cols, using: "brin", with: "pages_per_range = 32"},
		{suffix: "sid", expr: "sid", using: "hash"},
	}
}

type tableDef struct {
	name        string
	family      family
	indexes     []index // ProfileHomer
	lean        []index // ProfileLean: fewer indexes, of cheaper kinds
	leanNoBloom []index // ProfileLean before PostgreSQL 14
}

// tables are the Homer 7 parents, in the order of homer-schema.md §2.2.
// hep_proto_53_default (DNS) gets the QoS indexes; Homer has none for it.
var tables = [...]tableDef{
	{"hep_proto_1_call", famSIP, sipIndexes, leanSIP, leanSIPNoBloom},
	{"hep_proto_1_registration", famSIP, sipIndexes, leanSIP, leanSIPNoBloom},
	{"hep_proto_1_default", famSIP, sipIndexes, leanSIP, leanSIPNoBloom},
	{"hep_proto_5_default", famQoS, commonIndexes, leanCommon, leanCommon},
	{"hep_proto_35_default", famQoS, commonIndexes, leanCommon, leanCommon},
	{"hep_proto_54_default", famISUP, isupIndexes, leanISUP, leanISUPNoBloom},
	{"hep_proto_100_default", famLog, commonIndexes, leanCommon, leanCommon},
	{"hep_proto_53_default", famDNS, commonIndexes, leanCommon, leanCommon},
}

const (
	tCall = iota
	tRegistration
	tDefault
)

// Tables returns the names of the parent tables Add accepts.
func Tables() []string {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.name
	}
	return names
}

// IsTable reports whether Add accepts rows for the named table.
func IsTable(name string) bool { return tableIndex(name) >= 0 }

func tableIndex(name string) int {
	for i := range tables {
		if tables[i].name == name {
			return i
		}
	}
	return -1
}
