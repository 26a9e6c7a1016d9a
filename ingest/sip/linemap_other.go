//go:build !amd64 || purego

package sip

// scan fills lm from b and reports whether b is valid UTF-8 without NUL
// bytes; there is no vector pass here (see scanPortable).
func (lm *lineMap) scan(b []byte) bool { return lm.scanPortable(b) }
