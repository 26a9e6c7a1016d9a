package tcpstack

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

func newIdle(t *testing.T, mod func(*Config)) *Stack {
	t.Helper()
	cfg := testConfig("epoll_lt")
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, newCollector(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return s
}

// TestRuntimeNames pins the runtime-changeable set to spec §0.3 (fd_cache,
// async and defer_accept are read-only there).
func TestRuntimeNames(t *testing.T) {
	want := []string{"tcp_accept_aliases", "tcp_accept_no_cl", "tcp_conn_wq_max", "tcp_connect_timeout",
		"tcp_connection_lifetime", "tcp_crlf_ping", "tcp_delayed_ack", "tcp_keepalive", "tcp_keepcnt",
		"tcp_keepidle", "tcp_keepintvl", "tcp_linger2", "tcp_max_connections", "tcp_no_connect",
		"tcp_rd_buf_size", "tcp_reuse_port", "tcp_send_timeout", "tcp_syncnt", "tcp_wait_data",
		"tcp_wq_blk_size", "tcp_wq_max"}
	if got := RuntimeNames(); !slices.Equal(got, want) {
		t.Fatalf("RuntimeNames = %v", got)
	}
	if n := len(ParamNames()); n != 39 {
		t.Fatalf("%d parameters, want the 34 tcp_* ones, disable_tcp and the four wait and limit rules of spec §9", n)
	}
}

// TestDefaults checks every parameter's default as the admin API shows it
// against Kamailio's (spec §10), with hepd's two differences.
func TestDefaults(t *testing.T) {
	want := map[string]string{
		"disable_tcp": "no", "tcp_accept_aliases": "no", "tcp_accept_haproxy": "no",
		"tcp_accept_hep3":  "yes", // hepd: a capture server
		"tcp_accept_no_cl": "no", "tcp_accept_unique": "no", "tcp_async": "yes", "tcp_children": "8",
		"tcp_clone_rcvbuf": "no", "tcp_connection_lifetime": "120", "tcp_connection_match": "0",
		"tcp_connect_timeout": "10", "tcp_conn_wq_max": "32768", "tcp_crlf_ping": "yes",
		"tcp_defer_accept": "0", "tcp_delayed_ack": "yes", "tcp_fd_cache": "yes", "tcp_keepalive": "yes",
		"tcp_keepcnt": "0", "tcp_keepidle": "0", "tcp_keepintvl": "0", "tcp_linger2": "0",
		"tcp_max_connections": "2048", "tcp_no_connect": "no", "tcp_poll_method": "none",
		"tcp_rd_buf_size": "65536", // hepd: any HEP3 frame
		"tcp_reuse_port":  "no", "tcp_script_mode": "0", "tcp_send_timeout": "10", "tcp_source_ipv4": "",
		"tcp_source_ipv6": "", "tcp_syncnt": "0", "tcp_wait_data": "5000", "tcp_wq_blk_size": "2100",
		"tcp_wq_max": "10485760",
		// spec §9: core parameters outside the cfg framework.
		"tcp_accept_iplimit": "1024", "tcp_msg_read_timeout": "20", "tcp_msg_data_timeout": "20",
		"tcp_check_timer": "10", // min(read, data)/2
	}
	cfg := DefaultConfig()
	cfg.Listen = testConfig("epoll_lt").Listen
	s, err := New(cfg, newCollector(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	got := s.GetParams()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("GetParams has %d names, want %d", len(got), len(want))
	}
	runtime := RuntimeNames()
	for _, p := range Params() {
		if p.Default != want[p.Name] || p.Unit == "" || p.Runtime != slices.Contains(runtime, p.Name) {
			t.Errorf("Params: %+v", p)
		}
	}
}

func TestSetParam(t *testing.T) {
	tests := []struct {
		name, param, value string
		old, new           string
		wantErr            []string
		restart            bool
	}{
		{name: "decimal", param: "tcp_keepidle", value: "30", old: "0", new: "30"},
		{name: "cfg name", param: "keepintvl", value: "7", old: "0", new: "7"},
		{name: "hex", param: "tcp_conn_wq_max", value: "0x1000", old: "32768", new: "4096"},
		{name: "octal", param: "tcp_wq_blk_size", value: "0100", old: "2100", new: "64"},
		{name: "binary", param: "tcp_keepcnt", value: "101b", old: "0", new: "5"},
		{name: "enable", param: "tcp_accept_aliases", value: "enable", old: "no", new: "yes"},
		{name: "2 means yes", param: "tcp_no_connect", value: "2", old: "no", new: "yes"},
		{name: "off", param: "tcp_keepalive", value: "off", old: "yes", new: "no"},
		{name: "wait_data in ms", param: "wait_data_ms", value: "250", old: "5000", new: "250"},
		{name: "negative connect timeout means the default", param: "tcp_connect_timeout", value: "-1", old: "10", new: "10"},
		{name: "negative lifetime means never", param: "tcp_connection_lifetime", value: "-1", old: "120", new: "-1"},
		{name: "max_connections is lowered to the start-up value", param: "tcp_max_connections", value: "99999", old: "2048", new: "2048"},
		{name: "max_connections may go down", param: "tcp_max_connections", value: "10", old: "2048", new: "10"},
		{name: "negative not allowed for keepidle", param: "tcp_keepidle", value: "-1", wantErr: []string{"tcp_keepidle", "negative"}},
		{name: "conn_wq_max above 1 MiB refused", param: "tcp_conn_wq_max", value: "1048577", wantErr: []string{"conn_wq_max", "1048577", "0…1048576"}},
		{name: "wq_blk_size 0 refused, not clamped", param: "tcp_wq_blk_size", value: "0", wantErr: []string{"wq_blk_size", "1…65535"}},
		{name: "keepcnt above what linux takes", param: "tcp_keepcnt", value: "200", wantErr: []string{"tcp_keepcnt", "200", "1…127"}},
		{name: "keepcnt above Kamailio's range", param: "tcp_keepcnt", value: "2000", wantErr: []string{"keepcnt", "0…1024"}},
		{name: "rd_buf_size below 512", param: "tcp_rd_buf_size", value: "100", wantErr: []string{"rd_buf_size", "512…16777216"}},
		{name: "not a number", param: "tcp_syncnt", value: "many", wantErr: []string{"tcp_syncnt", "not a number"}},
		{name: "unknown name", param: "tcp_foo", value: "1", wantErr: []string{"unknown parameter", "tcp_keepidle"}},
		{name: "tcp_children needs a restart", param: "tcp_children", value: "4", restart: true},
		{name: "tcp_async is read-only", param: "tcp_async", value: "no", restart: true},
		{name: "tcp_buf_write is tcp_async", param: "tcp_buf_write", value: "no", wantErr: []string{"tcp_async"}, restart: true},
		{name: "tcp_fd_cache is read-only", param: "fd_cache", value: "no", restart: true},
		{name: "tcp_defer_accept is read-only", param: "tcp_defer_accept", value: "1", restart: true},
		{name: "tcp_accept_haproxy is start-up only", param: "tcp_accept_haproxy", value: "yes", restart: true},
		{name: "tcp_source_ipv4 is start-up only", param: "tcp_source_ipv4", value: "127.0.0.2", restart: true},
		{name: "tcp_msg_read_timeout is start-up only", param: "tcp_msg_read_timeout", value: "5", restart: true},
		{name: "tcp_msg_data_timeout is start-up only", param: "tcp_msg_data_timeout", value: "5", restart: true},
		{name: "tcp_check_timer is start-up only", param: "tcp_check_timer", value: "5", restart: true},
		{name: "tcp_accept_iplimit is start-up only", param: "tcp_accept_iplimit", value: "5", restart: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newIdle(t, nil)
			before := s.GetParams()
			old, nw, err := s.SetParam(tt.param, tt.value)
			if tt.restart && !errors.Is(err, ErrNeedsRestart) {
				t.Fatalf("err = %v, want ErrNeedsRestart", err)
			}
			for _, w := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to mention %q", err, w)
				}
			}
			if tt.restart || tt.wantErr != nil {
				if !maps(before, s.GetParams()) {
					t.Fatal("a refused change changed the parameters")
				}
				return
			}
			if err != nil || old != tt.old || nw != tt.new {
				t.Fatalf("SetParam = %q, %q, %v; want %q, %q", old, nw, err, tt.old, tt.new)
			}
		})
	}
}

func maps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestNewRefusesWhatLinuxCannotHonour(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want []string
	}{
		{"tcp_keepcnt 200", func(c *Config) { c.KeepCnt = 200 }, []string{"tcp_keepcnt", "200", "1…127"}},
		{"tcp_keepidle 40000", func(c *Config) { c.KeepIdle = 40000 }, []string{"tcp_keepidle", "40000", "32767"}},
		{"tcp_keepintvl -1", func(c *Config) { c.KeepIntvl = -1 }, []string{"tcp_keepintvl", "-1"}},
		{"tcp_linger2 3600", func(c *Config) { c.Linger2 = 3600 }, []string{"tcp_linger2", "3600", "120"}},
		{"tcp_syncnt 128", func(c *Config) { c.SynCnt = 128 }, []string{"tcp_syncnt", "128"}},
		{"tcp_connection_match 2", func(c *Config) { c.ConnectionMatch = 2 }, []string{"tcp_connection_match", "0 or 1"}},
		{"tcp_defer_accept -1", func(c *Config) { c.DeferAccept = -1 }, []string{"tcp_defer_accept", "-1"}},
		{"tcp_wait_data too long", func(c *Config) { c.WaitData = 3 * time.Hour }, []string{"tcp_wait_data", "7200000 ms"}},
		{"tcp_source_ipv4 of the wrong family", func(c *Config) { c.SourceIPv4 = mustAddr("::1") }, []string{"tcp_source_ipv4", "::1"}},
		{"tcp_source_ipv6 of the wrong family", func(c *Config) { c.SourceIPv6 = mustAddr("127.0.0.1") }, []string{"tcp_source_ipv6"}},
		{"tcp_conn_wq_max negative", func(c *Config) { c.ConnWQMax = -1 }, []string{"tcp_conn_wq_max"}},
		{"tcp_wq_max negative", func(c *Config) { c.WQMax = -1 }, []string{"tcp_wq_max"}},
		{"tcp_msg_read_timeout negative", func(c *Config) { c.MsgReadTimeout = -time.Second }, []string{"tcp_msg_read_timeout", "0 disables"}},
		{"tcp_msg_data_timeout negative", func(c *Config) { c.MsgDataTimeout = -time.Second }, []string{"tcp_msg_data_timeout", "0 disables"}},
		{"tcp_accept_iplimit negative", func(c *Config) { c.AcceptIPLimit = -1 }, []string{"tcp_accept_iplimit", "-1", "0 for no limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig("epoll_lt")
			tt.mod(&cfg)
			s, err := New(cfg, newCollector(), nil)
			if err == nil {
				s.Shutdown(context.Background())
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestStartupFixups(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*Config)
		param string
		want  string
	}{
		{"tcp_wq_blk_size 0 is clamped to 1", func(c *Config) { c.WQBlkSize = 0 }, "tcp_wq_blk_size", "1"},
		{"tcp_wq_blk_size above 65535 is clamped", func(c *Config) { c.WQBlkSize = 1 << 20 }, "tcp_wq_blk_size", "65535"},
		{"negative tcp_connect_timeout means the default", func(c *Config) { c.ConnectTimeout = -5 }, "tcp_connect_timeout", "10"},
		{"negative tcp_send_timeout means the default", func(c *Config) { c.SendTimeout = -1 }, "tcp_send_timeout", "10"},
		{"tcp_send_timeout above the maximum is lowered", func(c *Config) { c.SendTimeout = 1 << 62 }, "tcp_send_timeout", "134217727"},
		{"tcp_keepcnt forces tcp_keepalive on", func(c *Config) { c.KeepAlive = false; c.KeepCnt = 3 }, "tcp_keepalive", "yes"},
		{"tcp_keepintvl forces tcp_keepalive on", func(c *Config) { c.KeepAlive = false; c.KeepIntvl = 3 }, "tcp_keepalive", "yes"},
		{"the connection file value of tcp_conn_wq_max is not clamped", func(c *Config) { c.ConnWQMax = 5000000 }, "tcp_conn_wq_max", "5000000"},
		{"tcp_check_timer -1 is half the shorter wait rule", func(c *Config) { c.MsgReadTimeout = 6 * time.Second; c.MsgDataTimeout = 30 * time.Second }, "tcp_check_timer", "3"},
		{"tcp_check_timer -1 ignores a rule that is off", func(c *Config) { c.MsgReadTimeout = 0; c.MsgDataTimeout = 8 * time.Second }, "tcp_check_timer", "4"},
		{"tcp_check_timer -1 does not round 1 s down to off", func(c *Config) { c.MsgReadTimeout = time.Second; c.MsgDataTimeout = time.Second }, "tcp_check_timer", "0.5"},
		{"tcp_check_timer -1 with both rules off is off", func(c *Config) { c.MsgReadTimeout = 0; c.MsgDataTimeout = 0 }, "tcp_check_timer", "0"},
		{"tcp_check_timer as given", func(c *Config) { c.CheckTimer = 7 * time.Second }, "tcp_check_timer", "7"},
		{"tcp_msg_read_timeout above the maximum is lowered", func(c *Config) { c.MsgReadTimeout = 1 << 62 }, "tcp_msg_read_timeout", "134217727"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newIdle(t, tt.mod)
			if got := s.GetParams()[tt.param]; got != tt.want {
				t.Fatalf("%s = %q, want %q", tt.param, got, tt.want)
			}
		})
	}
}

func TestRuntimeMaxConnections(t *testing.T) {
	forMethods(t, func(t *testing.T, m string) {
		s := startStack(t, testConfig(m), newCollector())
		a := dial(t, s)
		write(t, a, ping)
		expectPong(t, a)
		if _, _, err := s.SetParam("tcp_max_connections", "1"); err != nil {
			t.Fatal(err)
		}
		b := dial(t, s)
		expectEOF(t, b, 5*time.Second)
		if st := s.Stats(); st.RejectedMaxConnections != 1 || st.Rejected != 1 {
			t.Fatalf("rejections %+v", st)
		}
	})
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
