package main

import (
	"fmt"
	"strconv"
	"strings"
)

// Bool is a Kamailio-style boolean: yes/true/on/enable and no/false/off/
// disable, or a number (non-zero means yes), as kamailio.cfg writes them.
type Bool bool

func (b *Bool) UnmarshalText(t []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(t))) {
	case "yes", "true", "on", "enable":
		*b = true
		return nil
	case "no", "false", "off", "disable":
		*b = false
		return nil
	}
	n, err := parseKamailioInt(string(t))
	if err != nil {
		return fmt.Errorf("want yes/no, true/false, on/off, enable/disable or a number")
	}
	*b = n != 0
	return nil
}

func (b Bool) String() string {
	if b {
		return "yes"
	}
	return "no"
}

// Int is a Kamailio-style number: decimal, hexadecimal (0x1F), octal
// (leading 0) or binary (suffix b), optionally negative.
type Int int64

func (i *Int) UnmarshalText(t []byte) error {
	n, err := parseKamailioInt(string(t))
	if err != nil {
		return err
	}
	*i = Int(n)
	return nil
}

func (i Int) String() string { return strconv.FormatInt(int64(i), 10) }

func parseKamailioInt(s string) (int64, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && (s[len(s)-1] == 'b' || s[len(s)-1] == 'B'):
		s, base = s[:len(s)-1], 2
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	n, err := strconv.ParseInt(s, base, 64)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("want a number (decimal, 0x hex, leading-0 octal or b-suffixed binary)")
	}
	if neg {
		n = -n
	}
	return n, nil
}

// List is a comma-separated list of names; blanks around items are trimmed.
// "none" is the empty list, for where an empty value cannot be written (an
// empty environment variable counts as unset).
type List []string

func (l *List) UnmarshalText(t []byte) error {
	*l = nil
	if strings.TrimSpace(string(t)) == "none" {
		return nil
	}
	for _, item := range strings.Split(string(t), ",") {
		if item = strings.TrimSpace(item); item != "" {
			*l = append(*l, item)
		}
	}
	return nil
}

func (l List) String() string { return strings.Join(l, ",") }

// Str is a plain string value; quotes around it, as kamailio.cfg writes
// strings, are removed.
type Str string

func (s *Str) UnmarshalText(t []byte) error {
	v := strings.TrimSpace(string(t))
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		v = v[1 : len(v)-1]
	}
	*s = Str(v)
	return nil
}

func (s Str) String() string { return string(s) }
