package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hepd/hepd/tcpstack"
)

func TestDefaults(t *testing.T) {
	c, err := loadConfig(nil, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"hep_listen", c.HEPListen.String(), "0.0.0.0:9060"},
		{"hep_auth_key", string(c.HEPAuthKey), ""},
		{"hep_auth_keys", c.HEPAuthKeys.String(), ""},
		{"tcp_children", c.TCPChildren.String(), "8"},
		{"tcp_rd_buf_size", c.TCPRdBufSize.String(), "65536"},
		{"tcp_max_connections", c.TCPMaxConnections.String(), "2048"},
		{"tcp_connection_lifetime", c.TCPConnectionLifetime.String(), "120"},
		{"disable_tcp", c.DisableTCP.String(), "no"},
		{"db_dsn", string(c.DBDSN), ""},
		{"admin_listen", string(c.AdminListen), "127.0.0.1:9096"},
		{"sip_headers", c.SIPHeaders.String(), "ruri_user,ruri_domain,from_user,from_tag,to_user,to_tag,callid,cseq,method,user_agent"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// sampleValues gives each parameter a valid non-default value.
func sampleValues() map[string]string {
	return map[string]string{
		"hep_listen": "127.0.0.1:19060,[::1]:19060", "hep_auth_key": "capture-pw", "hep_auth_keys": "0.0.0.0:5060=sip-side-pw",
		"sip_listen": "127.0.0.1:15060,[::1]:15060", "disable_tcp": "yes", "udp_rcvbuf": "1048576",
		"tcp_children": "3", "tcp_rd_buf_size": "32768", "tcp_max_connections": "100",
		"tcp_connection_lifetime": "30", "tcp_poll_method": "epoll_et",
		"tcp_accept_aliases": "yes", "tcp_accept_haproxy": "yes", "tcp_accept_hep3": "no", "tcp_accept_no_cl": "yes",
		"tcp_accept_unique": "yes", "tcp_async": "no", "tcp_clone_rcvbuf": "yes", "tcp_connection_match": "1",
		"tcp_connect_timeout": "3", "tcp_conn_wq_max": "65536", "tcp_crlf_ping": "no", "tcp_defer_accept": "2",
		"tcp_delayed_ack": "no", "tcp_fd_cache": "no", "tcp_keepalive": "no", "tcp_keepcnt": "3", "tcp_keepidle": "30",
		"tcp_keepintvl": "10", "tcp_linger2": "5", "tcp_no_connect": "yes", "tcp_reuse_port": "yes",
		"tcp_script_mode": "1", "tcp_send_timeout": "4", "tcp_source_ipv4": "127.0.0.2", "tcp_source_ipv6": "::1",
		"tcp_syncnt": "2", "tcp_wait_data": "1500", "tcp_wq_blk_size": "4096", "tcp_wq_max": "1048576",
		"tcp_accept_iplimit": "64", "tcp_check_timer": "0", "tcp_msg_data_timeout": "5", "tcp_msg_read_timeout": "3",
		"db_dsn": "postgres://u:p@db:5432/homer_data", "data_dir": "/srv/hepd", "local_db_port": "6543",
		"db_batch_rows": "2000", "db_flush_ms": "50", "db_writers": "4", "db_max_pending": "1000", "spool_dir": "/tmp/hepd-spool", "spool_max_mb": "64", "udp_readers": "4",
		"db_index_profile": "lean", "db_synchronous_commit": "no",
		"db_part_sip": "2h", "db_part_qos": "12h", "db_part_log": "1h", "db_part_isup": "1d",
		"db_drop_days": "7", "db_drop_days_call": "3", "db_drop_days_register": "2", "db_drop_days_default": "1",
		"sip_headers": "callid,method,cseq,via", "custom_headers": "X-Foo,P-Charging-Vector",
		"aleg_headers": "X-CID", "force_aleg_id": "on",
		"admin_listen": "127.0.0.1:19096", "admin_token": "s3cret", "log_level": "debug", "shutdown_timeout": "5",
	}
}

// TestEveryParameterFromEverySource sets every parameter through the config
// file, the environment and a flag in turn and reads it back.
func TestEveryParameterFromEverySource(t *testing.T) {
	values := sampleValues()
	ps := params()
	if len(values) != len(ps) {
		t.Fatalf("sampleValues has %d entries, Config has %d parameters: keep them in step", len(values), len(ps))
	}
	canonical := func(p param, v string) string {
		var c Config
		if err := p.set(&c, v, ""); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		return p.get(&c)
	}
	for _, p := range ps {
		v, ok := values[p.name]
		if !ok {
			t.Fatalf("no sample value for %s", p.name)
		}
		want := canonical(p, v)
		if want == p.def {
			t.Fatalf("sample value of %s equals its default", p.name)
		}
		t.Run(p.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "hepd.cfg")
			os.WriteFile(file, []byte(fmt.Sprintf("# comment\n\n%s = %s  # trailing comment\n", p.name, v)), 0o644)
			for _, src := range []struct {
				name    string
				args    []string
				environ map[string]string
			}{
				{"file", []string{"-config", file}, nil},
				{"env", nil, map[string]string{p.env: v}},
				{"flag", []string{"-" + p.name, v}, nil},
				{"HEPD_CONFIG", nil, map[string]string{"HEPD_CONFIG": file}},
			} {
				c, err := loadConfig(src.args, src.environ, io.Discard)
				if err != nil {
					t.Fatalf("%s: %v", src.name, err)
				}
				if got := p.get(&c); got != want {
					t.Errorf("%s: got %q, want %q", src.name, got, want)
				}
			}
		})
	}
}

func TestPrecedenceFileEnvFlag(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hepd.cfg")
	os.WriteFile(file, []byte("tcp_children = 2\ndb_writers = 3\nlog_level = warn\n"), 0o644)
	c, err := loadConfig([]string{"-config", file, "-tcp_children", "4"},
		map[string]string{"HEPD_TCP_CHILDREN": "5", "HEPD_DB_WRITERS": "6"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.TCPChildren != 4 || c.DBWriters != 6 || c.LogLevel != "warn" {
		t.Fatalf("tcp_children=%d (want flag 4) db_writers=%d (want env 6) log_level=%s (want file warn)",
			c.TCPChildren, c.DBWriters, c.LogLevel)
	}
}

func TestKamailioValueForms(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  string
	}{
		{"yes", "yes"}, {"true", "yes"}, {"on", "yes"}, {"enable", "yes"}, {"1", "yes"}, {"2", "yes"},
		{"no", "no"}, {"false", "no"}, {"off", "no"}, {"disable", "no"}, {"0", "no"}, {"YES", "yes"},
	} {
		c, err := loadConfig([]string{"-disable_tcp", tc.value}, nil, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if got := c.DisableTCP.String(); got != tc.want {
			t.Errorf("disable_tcp=%q: got %s, want %s", tc.value, got, tc.want)
		}
	}
	for _, tc := range []struct {
		value string
		want  Int
	}{{"16", 16}, {"0x10", 16}, {"020", 16}, {"10000b", 16}, {" 16 ", 16}} {
		c, err := loadConfig([]string{"-tcp_children", tc.value}, nil, io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", tc.value, err)
		}
		if c.TCPChildren != tc.want {
			t.Errorf("tcp_children=%q: got %d, want %d", tc.value, c.TCPChildren, tc.want)
		}
	}
	file := filepath.Join(t.TempDir(), "hepd.cfg")
	os.WriteFile(file, []byte(`db_dsn = "postgres://u:p#1@db/x"`+"\n"), 0o644)
	c, err := loadConfig([]string{"-config", file}, nil, io.Discard)
	if err != nil || c.DBDSN != "postgres://u:p#1@db/x" {
		t.Fatalf("quoted value with #: %q, %v", c.DBDSN, err)
	}
}

// TestInvalidValues: every invalid value is refused, and the message names
// the parameter, the value, where it came from and what is allowed.
func TestInvalidValues(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        []string
	}{
		{"tcp_children", "0", []string{"allowed: 1 to 1024"}},
		{"tcp_children", "many", []string{"want a number"}},
		{"tcp_children", "-3", []string{"allowed: 1 to 1024"}},
		{"tcp_rd_buf_size", "100", []string{"allowed: 512 to 16777216"}},
		{"tcp_rd_buf_size", "99999999", []string{"allowed: 512 to 16777216"}},
		{"tcp_max_connections", "-1", []string{"allowed: 0 to"}},
		{"tcp_connection_lifetime", "-2", []string{"allowed: -1 to"}},
		{"disable_tcp", "maybe", []string{"want yes/no"}},
		{"force_aleg_id", "si", []string{"want yes/no"}},
		{"udp_rcvbuf", "-1", []string{"allowed: 0 to"}},
		{"hep_listen", "9060", []string{"want IP:port"}},
		{"sip_listen", "127.0.0.1:5060,tcp:127.0.0.1:5060", []string{"want IP:port"}},
		{"hep_listen", "localhost:9060", []string{"want IP:port"}},
		{"hep_listen", "none", []string{"want at least one IP:port"}},
		{"hep_auth_keys", "0.0.0.0:9060", []string{"entry 1: want ip:port=key"}},
		{"hep_auth_keys", "0.0.0.0:9060=a,9061=b", []string{`entry 2: "9061" is not an ip:port`}},
		{"hep_auth_keys", "10.9.9.9:9060=a", []string{"10.9.9.9:9060 is not an address of hep_listen or sip_listen"}},
		{"hep_auth_keys", "0.0.0.0:9060=a,0.0.0.0:9060=b", []string{"given twice"}},
		{"admin_listen", "*:80", []string{"want IP:port"}},
		{"local_db_port", "70000", []string{"allowed: 1 to 65535"}},
		{"db_batch_rows", "0", []string{"allowed: 1 to"}},
		{"db_flush_ms", "0x", []string{"want a number"}},
		{"db_writers", "0", []string{"allowed: 1 to 64"}},
		{"db_max_pending", "0", []string{"allowed: 1 to"}},
		{"db_index_profile", "fast", []string{"allowed: homer, lean"}},
		{"db_synchronous_commit", "local", []string{"want yes/no"}},
		{"db_part_sip", "3h", []string{"allowed: 5m, 10m"}},
		{"db_part_qos", "7", []string{"allowed: 5m"}},
		{"db_part_log", "0m", []string{"allowed: 5m"}},
		{"db_part_isup", "1w", []string{"allowed: 5m"}},
		{"db_drop_days", "0", []string{"allowed: 1 to 36500"}},
		{"db_drop_days_call", "-1", []string{"allowed: 0 to"}},
		{"db_drop_days_register", "x", []string{"want a number"}},
		{"db_drop_days_default", "1.5", []string{"want a number"}},
		{"sip_headers", "callid,bogus", []string{`unknown data_header key "bogus"`, "allowed:"}},
		{"custom_headers", "X-Ok,Bad Header", []string{"Bad Header"}},
		{"aleg_headers", "X-CID,a:b", []string{"a:b"}},
		{"tcp_poll_method", "kqueue", []string{"not available on linux (available: epoll_lt, epoll_et, poll, select)"}},
		{"tcp_poll_method", "/dev/poll", []string{"not available on linux"}},
		{"tcp_poll_method", "sigio_rt", []string{"not implemented by hepd"}},
		{"tcp_poll_method", "fastest", []string{"unknown method"}},
		{"tcp_accept_haproxy", "maybe", []string{"want yes/no"}},
		{"tcp_connection_match", "2", []string{"allowed: 0 to 1"}},
		{"tcp_connect_timeout", "-2", []string{"allowed: -1 to 134217727"}},
		{"tcp_conn_wq_max", "2000000", []string{"allowed: 0 to 1048576"}},
		{"tcp_keepcnt", "2000", []string{"allowed: 0 to 1024"}},
		{"tcp_keepidle", "90000", []string{"allowed: 0 to 86400"}},
		{"tcp_linger2", "-1", []string{"allowed: 0 to 3600"}},
		{"tcp_script_mode", "2", []string{"allowed: 0 to 1"}},
		{"tcp_source_ipv4", "::1", []string{"want an IPv4 address"}},
		{"tcp_source_ipv6", "10.0.0.1", []string{"want an IPv6 address"}},
		{"tcp_source_ipv4", "host.example", []string{"want an IPv4 address"}},
		{"tcp_syncnt", "1025", []string{"allowed: 0 to 1024"}},
		{"tcp_wait_data", "7200001", []string{"allowed: 0 to 7200000"}},
		{"tcp_wq_blk_size", "0", []string{"allowed: 1 to 65535"}},
		{"tcp_wq_max", "-5", []string{"allowed: 0 to 1073741824"}},
		{"log_level", "loud", []string{"allowed: debug, info, warn, error"}},
		{"shutdown_timeout", "0", []string{"allowed: 1 to 3600"}},
	} {
		t.Run(tc.name+"="+tc.value, func(t *testing.T) {
			p := paramByName(t, tc.name)
			for _, src := range []struct {
				args    []string
				environ map[string]string
				from    string
			}{
				{[]string{"-" + tc.name, tc.value}, nil, "flag -" + tc.name},
				{nil, map[string]string{p.env: tc.value}, "environment " + p.env},
			} {
				_, err := loadConfig(src.args, src.environ, io.Discard)
				var ve *ValueError
				if !errors.As(err, &ve) {
					t.Fatalf("%s: got %v, want a ValueError", src.from, err)
				}
				msg := err.Error()
				for _, w := range append([]string{tc.name + ": invalid value", src.from}, tc.want...) {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: error %q does not contain %q", src.from, msg, w)
					}
				}
			}
		})
	}
}

// TestAuthKeysSyntax: hep_auth_keys gives each listen address its key; an
// address without an entry takes hep_auth_key; "ip:port=" checks nothing;
// a quoted key may hold '#'.
func TestAuthKeysSyntax(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hepd.cfg")
	os.WriteFile(file, []byte(`hep_listen = 127.0.0.1:9060, [::1]:9061
sip_listen = 127.0.0.1:5060, 127.0.0.1:5062
hep_auth_key = "main # pw"
hep_auth_keys = [::1]:9061="b#pw", 127.0.0.1:5060= # comment
`), 0o644)
	c, err := loadConfig([]string{"-config", file}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addrs, lis := listeners(c)
	var got []string
	for i, l := range lis {
		got = append(got, fmt.Sprintf("%s %s key=%q rawSIP=%v", addrs[i], l.Name, l.AuthKey, l.RawSIP))
	}
	want := []string{
		`127.0.0.1:9060 127.0.0.1:9060 key="main # pw" rawSIP=false`,
		`[::1]:9061 [::1]:9061 key="b#pw" rawSIP=false`,
		`127.0.0.1:5060 127.0.0.1:5060 key="" rawSIP=true`,
		`127.0.0.1:5062 127.0.0.1:5062 key="main # pw" rawSIP=true`,
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listeners:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct{ content, want string }{
		{"tcp_childern = 4\n", `hepd.cfg:1: unknown parameter "tcp_childern"`},
		{"# ok\ntcp_children 4\n", "hepd.cfg:2: want `name = value`"},
		{"\n\ntcp_children = zero\n", `tcp_children: invalid value "zero" (`},
	} {
		file := filepath.Join(t.TempDir(), "hepd.cfg")
		os.WriteFile(file, []byte(tc.content), 0o644)
		_, err := loadConfig([]string{"-config", file}, nil, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.content, err, tc.want)
		}
	}
	if _, err := loadConfig([]string{"-config", "/nonexistent/hepd.cfg"}, nil, io.Discard); err == nil {
		t.Error("missing config file accepted")
	}
	if _, err := loadConfig([]string{"-no_such_flag", "1"}, nil, io.Discard); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestEnvNamesFollowConfigNames(t *testing.T) {
	for _, p := range params() {
		if want := "HEPD_" + strings.ToUpper(p.name); p.env != want {
			t.Errorf("%s: env tag %s, want %s", p.name, p.env, want)
		}
		if p.help == "" || p.unit == "" {
			t.Errorf("%s: missing help or unit tag", p.name)
		}
	}
}

// TestREADMEConfigTable keeps the README's parameter table in step with
// Config: same names, defaults, units and runtime column, in the same order.
func TestREADMEConfigTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\| `HEPD_[A-Z0-9_]+` \\| `([^`]*)` \\| ([^|]+) \\| (yes|no) \\|")
	var got []string
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		got = append(got, fmt.Sprintf("%s=%s (%s) runtime %s", m[1], m[2], strings.TrimSpace(m[3]), m[4]))
	}
	var want []string
	for _, p := range params() {
		want = append(want, fmt.Sprintf("%s=%s (%s) runtime %s", p.name, p.def, p.unit, runtimeColumn(p.name)))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("README table out of step with Config.\nREADME:\n%s\n\nConfig (paste these rows):\n%s",
			strings.Join(got, "\n"), readmeRows())
	}
}

// runtimeColumn says whether hepd ctl cfg set can change a parameter.
func runtimeColumn(name string) string {
	if slices.Contains(tcpstack.RuntimeNames(), name) {
		return "yes"
	}
	return "no"
}

func readmeRows() string {
	var b strings.Builder
	for _, p := range params() {
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s | %s |\n", p.name, p.env, p.def, p.unit, runtimeColumn(p.name), p.help)
	}
	return b.String()
}

func paramByName(t *testing.T, name string) param {
	for _, p := range params() {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no parameter %s", name)
	return param{}
}

// TestTCPDefaultsMatchStack: hepd's documented tcp_* defaults are the
// stack's own (Kamailio's, with hepd's listed differences).
func TestTCPDefaultsMatchStack(t *testing.T) {
	got := tcpConfig(defaultConfig(), nil)
	want := tcpstack.DefaultConfig()
	want.Listen = nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tcp defaults differ:\nhepd  %+v\nstack %+v", got, want)
	}
}

// TestKamailioAlias: tcp_buf_write is Kamailio's other name of tcp_async.
func TestKamailioAlias(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hepd.cfg")
	os.WriteFile(file, []byte("tcp_buf_write = no\n"), 0o644)
	for _, src := range []struct {
		args    []string
		environ map[string]string
	}{
		{[]string{"-config", file}, nil},
		{[]string{"-tcp_buf_write", "no"}, nil},
		{nil, map[string]string{"HEPD_TCP_BUF_WRITE": "no"}},
	} {
		c, err := loadConfig(src.args, src.environ, io.Discard)
		if err != nil || c.TCPAsync {
			t.Errorf("%v %v: tcp_async=%v err=%v, want no", src.args, src.environ, c.TCPAsync, err)
		}
	}
}
