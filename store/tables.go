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
}

var (
	// The per-partition indexes of homer-schema.md §2.3, with heplify-server's
	// names (PostgreSQL folds its unquoted "srcIp" to "srcip").
	commonIndexes = []index{
		{"create_date", "create_date"},
		{"sid", "sid"},
		{"srcip", "(protocol_header->>'srcIp')"},
		{"dstip", "(protocol_header->>'dstIp')"},
		{"correlation_id", "(protocol_header->>'correlation_id')"},
	}
	sipIndexes = append(slices.Clip(commonIndexes),
		index{"ruri_domain", "(data_header->>'ruri_domain')"},
		index{"ruri_user", "(data_header->>'ruri_user')"},
		index{"from_user", "(data_header->>'from_user')"},
		index{"to_user", "(data_header->>'to_user')"},
		index{"pid_user", "(data_header->>'pid_user')"},
		index{"auth_user", "(data_header->>'auth_user')"},
		index{"callid", "(data_header->>'callid')"},
		index{"method", "(data_header->>'method')"},
	)
	isupIndexes = []index{
		{"create_date", "create_date"},
		{"sid", "sid"},
		{"correlation_id", "(protocol_header->>'correlation_id')"},
		{"called_number", "(data_header->>'called_number')"},
		{"calling_number", "(data_header->>'calling_number')"},
		{"opc", "(data_header->>'opc')"},
		{"dpc", "(data_header->>'dpc')"},
		{"cic", "(data_header->>'cic')"},
		{"msg_name", "(data_header->>'msg_name')"},
		{"callid", "(data_header->>'callid')"},
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
// range: the call flow and Call-ID search (sid), the time order
// (create_date) and, for SIP, the user searches (from_user, to_user). Every
// other search still works, by scanning the partitions of its time range.
var (
	leanCommon = []index{{"create_date", "create_date"}, {"sid", "sid"}}
	leanSIP    = append(slices.Clip(leanCommon),
		index{"from_user", "(data_header->>'from_user')"},
		index{"to_user", "(data_header->>'to_user')"},
	)
	leanISUP = append(slices.Clip(leanCommon),
		index{"called_number", "(data_header->>'called_number')"},
		index{"calling_number", "(data_header->>'calling_number')"},
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
