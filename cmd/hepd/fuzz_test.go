package main

import (
	"fmt"
	"strings"
	"testing"
)

// FuzzConfigFile: any config file either loads or fails with an error; what
// loads, written back out as `name = value` lines, loads to the same values.
func FuzzConfigFile(f *testing.F) {
	f.Add("tcp_children = 4\n# comment\ndisable_tcp = yes\n")
	f.Add(`db_dsn = "postgres://u:p#x@h/db" # c` + "\nsip_headers = callid, method\n")
	f.Add("tcp_rd_buf_size = 0x10000\ntcp_connection_lifetime = -1\nudp_rcvbuf = 0777\n")
	f.Add("hep_listen = [::1]:9060\nlog_level = debug\ncustom_headers = X-A,X-B\n")
	f.Add("= value\nname =\n\n\x00\xff = \"\n")
	for _, p := range params() {
		f.Add(p.name + " = " + p.def + "\n")
	}
	f.Fuzz(func(t *testing.T, content string) {
		c := defaultConfig()
		if err := parseConfigFile(strings.NewReader(content), "fuzz.cfg", &c, map[string]string{}); err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		var out strings.Builder
		for _, p := range params() {
			v := p.get(&c)
			if strings.ContainsAny(v, "#\"'\n\r") || v != strings.TrimSpace(v) {
				return // not representable as a plain config line
			}
			fmt.Fprintf(&out, "%s = %s\n", p.name, v)
		}
		c2 := defaultConfig()
		if err := parseConfigFile(strings.NewReader(out.String()), "again.cfg", &c2, map[string]string{}); err != nil {
			t.Fatalf("re-reading\n%s: %v", out.String(), err)
		}
		for _, p := range params() {
			if p.get(&c) != p.get(&c2) {
				t.Fatalf("%s: %q then %q", p.name, p.get(&c), p.get(&c2))
			}
		}
	})
}
