package main

// kind is a unit of traffic whose messages are sent in order on one
// connection.
type kind uint8

const (
	kindCall         kind = iota // INVITE/100/180/200/ACK/BYE/200
	kindRegistration             // REGISTER/401/REGISTER/200
	kindOptions                  // OPTIONS/200
)

// messages returns how many SIP messages one unit of k has.
func (k kind) messages() int {
	switch k {
	case kindCall:
		return 7
	case kindRegistration:
		return 4
	}
	return 2
}

// label is what a message is counted as: its method or status code.
type label uint8

const (
	labelINVITE label = iota
	label100
	label180
	label200
	labelACK
	labelBYE
	labelREGISTER
	label401
	labelOPTIONS
	numLabels
)

func (l label) String() string {
	switch l {
	case labelINVITE:
		return "INVITE"
	case label100:
		return "100"
	case label180:
		return "180"
	case label200:
		return "200"
	case labelACK:
		return "ACK"
	case labelBYE:
		return "BYE"
	case labelREGISTER:
		return "REGISTER"
	case label401:
		return "401"
	case labelOPTIONS:
		return "OPTIONS"
	}
	return "?"
}

// table is the Homer 7 table a SIP message lands in, chosen by the method
// of its CSeq.
type table uint8

const (
	tableCall table = iota
	tableRegistration
	tableDefault
	numTables
)

func (t table) String() string {
	switch t {
	case tableCall:
		return "hep_proto_1_call"
	case tableRegistration:
		return "hep_proto_1_registration"
	}
	return "hep_proto_1_default"
}

// tableOf returns the table for messages of kind k: every message of a
// call has CSeq INVITE, ACK or BYE, of a registration REGISTER, of an
// options ping OPTIONS.
func tableOf(k kind) table {
	switch k {
	case kindCall:
		return tableCall
	case kindRegistration:
		return tableRegistration
	}
	return tableDefault
}
