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
	expr   string // indexed expression
	using  string // access method; empty is btree
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
// searches a time range with a LIMIT and no ORDER BY, which a BRIN index
// (a few bytes per 128 pages of rows, which arrive in time order) narrows
// to the right blocks, and it looks up sid and users by =, IN and = ANY,
// which a hash index answers with a 4-byte entry instead of a copy of the
// key. A LIKE search on a user scans the time range through the BRIN index.
// A BRIN index knows nothing of the block ranges filled since it was last
// summarised (a search reads them all), so hepd summarises the partitions
// it wrote every Config.SummarizeInterval (see brin.go); autosummarize would
// leave it to autovacuum's queue of 256 requests, one per range of 1 MB.
var (
	leanCommon = []index{
		{suffix: "create_date", expr: "create_date", using: "brin"},
		{suffix: "sid", expr: "sid", using: "hash"},
	}
	leanSIP = append(slices.Clip(leanCommon),
		index{suffix: "from_user", expr: "(data_header->>'from_user')", using: "hash"},
		index{suffix: "to_user", expr: "(data_header->>'to_user')", using: "hash"},
	)
	leanISUP = append(slices.Clip(leanCommon),
		index{suffix: "called_number", expr: "(data_header->>'called_number')", using: "hash"},
		index{suffix: "calling_number", expr: "(data_header->>'calling_number')", using: "hash"},
	)
)

type tableDef struct {
	name    string
	family  family
	indexes []index // ProfileHomer
	lean    []index // ProfileLean: a subset of indexes, same names
}

// tables are the Homer 7 parents, in the order of homer-schema.md §2.2.
// hep_proto_53_default (DNS) gets the QoS indexes; Homer has none for it.
var tables = [...]tableDef{
	{"hep_proto_1_call", famSIP, sipIndexes, leanSIP},
	{"hep_proto_1_registration", famSIP, sipIndexes, leanSIP},
	{"hep_proto_1_default", famSIP, sipIndexes, leanSIP},
	{"hep_proto_5_default", famQoS, commonIndexes, leanCommon},
	{"hep_proto_35_default", famQoS, commonIndexes, leanCommon},
	{"hep_proto_54_default", famISUP, isupIndexes, leanISUP},
	{"hep_proto_100_default", famLog, commonIndexes, leanCommon},
	{"hep_proto_53_default", famDNS, commonIndexes, leanCommon},
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
