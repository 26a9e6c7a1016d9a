package sip

// Profile returns the Homer 7 table profile for a CSeq method: "call",
// "registration" or "default", to be used as hep_proto_1_<profile>.
// Routing by the CSeq method makes responses follow their request.
//
// The comparison is case-sensitive because SIP methods are (RFC 3261 §7.1):
// "invite" is an unknown extension method and goes to "default", as it does
// in heplify-server.
func Profile(cseqMethod []byte) string {
	switch string(cseqMethod) { // no allocation: the compiler special-cases switch string(b)
	case "INVITE", "ACK", "BYE", "CANCEL", "UPDATE", "PRACK", "REFER", "INFO", "NOTIFY":
		return "call"
	case "REGISTER":
		return "registration"
	}
	return "default"
}
