// Package digits parses the small decimal numbers of wire formats without
// allocating: ports in PROXY headers and SIP Via headers.
package digits

// Port parses b as a decimal port 1..65535: ASCII digits only, no sign, no
// blanks, at most five digits. 0 is refused, as Kamailio refuses it.
func Port(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v == 0 || v > 0xffff {
		return 0, false
	}
	return uint16(v), true
}
