package tcpstack

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrNeedsRestart is returned (wrapped) by SetParam for a parameter that is
// read only at start-up (or read-only in Kamailio's cfg framework).
var ErrNeedsRestart = errors.New("can only be changed by a restart")

// param describes one tcp_* parameter for the by-name interface of the admin
// API: its Kamailio config-file name, its cfg-framework name when it has one,
// and how to read and (for runtime ones) change it.
type param struct {
	name string // config-file name, tcp_*
	unit string
	cfg  string // Kamailio cfg name, "" if not in the cfg framework
	neg  bool   // the intno grammar: a leading minus is allowed (spec §0.1)
	get  func(c *Config, r *Runtime) string
	set  func(r *Runtime, v int64) // nil: start-up only
}

func fmtBool(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func fmtInt(v int) string { return strconv.Itoa(v) }

// fmtSec writes a duration in Kamailio's unit of seconds (fractions only
// when a caller configured sub-second values); negative is -1.
func fmtSec(d time.Duration) string {
	if d < 0 {
		return "-1"
	}
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

func secs(v int64) time.Duration {
	if v < 0 {
		return -1
	}
	if v > int64(maxTimeout/time.Second) {
		return maxTimeout + time.Second // refused by Runtime.check
	}
	return time.Duration(v) * time.Second
}

var params = []param{
	{name: "disable_tcp", unit: "bool", get: func(*Config, *Runtime) string { return "no" }},
	{name: "tcp_accept_aliases", unit: "bool", cfg: "accept_aliases", get: func(_ *Config, r *Runtime) string { return fmtBool(r.AcceptAliases) },
		set: func(r *Runtime, v int64) { r.AcceptAliases = v != 0 }},
	{name: "tcp_accept_haproxy", unit: "bool", get: func(c *Config, _ *Runtime) string { return fmtBool(c.AcceptHAProxy) }},
	{name: "tcp_accept_hep3", unit: "bool", get: func(c *Config, _ *Runtime) string { return fmtBool(c.AcceptHEP3) }},
	{name: "tcp_accept_iplimit", unit: "count", get: func(c *Config, _ *Runtime) string { return fmtInt(c.AcceptIPLimit) }},
	{name: "tcp_accept_no_cl", unit: "bool", cfg: "accept_no_cl", get: func(_ *Config, r *Runtime) string { return fmtBool(r.AcceptNoCL) },
		set: func(r *Runtime, v int64) { r.AcceptNoCL = v != 0 }},
	{name: "tcp_accept_unique", unit: "bool", get: func(c *Config, _ *Runtime) string { return fmtBool(c.AcceptUnique) }},
	{name: "tcp_async", unit: "bool", cfg: "async", get: func(c *Config, _ *Runtime) string { return fmtBool(c.Async) }},
	{name: "tcp_check_timer", unit: "s", neg: true, get: func(c *Config, _ *Runtime) string { return fmtSec(c.checkPeriod()) }},
	{name: "tcp_children", unit: "count", get: func(c *Config, _ *Runtime) string { return fmtInt(c.Children) }},
	{name: "tcp_clone_rcvbuf", unit: "bool", get: func(c *Config, _ *Runtime) string { return fmtBool(c.CloneRcvBuf) }},
	{name: "tcp_connection_lifetime", unit: "s", cfg: "connection_lifetime", neg: true,
		get: func(_ *Config, r *Runtime) string { return fmtSec(r.ConnectionLifetime) },
		set: func(r *Runtime, v int64) { r.ConnectionLifetime = secs(v) }},
	{name: "tcp_connection_match", unit: "0/1", get: func(c *Config, _ *Runtime) string { return fmtInt(c.ConnectionMatch) }},
	{name: "tcp_connect_timeout", unit: "s", cfg: "connect_timeout", neg: true,
		get: func(_ *Config, r *Runtime) string { return fmtSec(r.ConnectTimeout) },
		set: func(r *Runtime, v int64) { r.ConnectTimeout = secs(v) }},
	{name: "tcp_conn_wq_max", unit: "bytes", cfg: "conn_wq_max", get: func(_ *Config, r *Runtime) string { return fmtInt(r.ConnWQMax) },
		set: func(r *Runtime, v int64) { r.ConnWQMax = int(v) }},
	{name: "tcp_crlf_ping", unit: "bool", cfg: "crlf_ping", get: func(_ *Config, r *Runtime) string { return fmtBool(r.CRLFPing) },
		set: func(r *Runtime, v int64) { r.CRLFPing = v != 0 }},
	{name: "tcp_defer_accept", unit: "s", cfg: "defer_accept", get: func(c *Config, _ *Runtime) string { return fmtInt(c.DeferAccept) }},
	{name: "tcp_delayed_ack", unit: "bool", cfg: "delayed_ack", get: func(_ *Config, r *Runtime) string { return fmtBool(r.DelayedAck) },
		set: func(r *Runtime, v int64) { r.DelayedAck = v != 0 }},
	{name: "tcp_fd_cache", unit: "bool", cfg: "fd_cache", get: func(c *Config, _ *Runtime) string { return fmtBool(c.FDCache) }},
	{name: "tcp_keepalive", unit: "bool", cfg: "keepalive", get: func(_ *Config, r *Runtime) string { return fmtBool(r.KeepAlive) },
		set: func(r *Runtime, v int64) { r.KeepAlive = v != 0 }},
	{name: "tcp_keepcnt", unit: "count", cfg: "keepcnt", get: func(_ *Config, r *Runtime) string { return fmtInt(r.KeepCnt) },
		set: func(r *Runtime, v int64) { r.KeepCnt = int(v) }},
	{name: "tcp_keepidle", unit: "s", cfg: "keepidle", get: func(_ *Config, r *Runtime) string { return fmtInt(r.KeepIdle) },
		set: func(r *Runtime, v int64) { r.KeepIdle = int(v) }},
	{name: "tcp_keepintvl", unit: "s", cfg: "keepintvl", get: func(_ *Config, r *Runtime) string { return fmtInt(r.KeepIntvl) },
		set: func(r *Runtime, v int64) { r.KeepIntvl = int(v) }},
	{name: "tcp_linger2", unit: "s", cfg: "linger2", get: func(_ *Config, r *Runtime) string { return fmtInt(r.Linger2) },
		set: func(r *Runtime, v int64) { r.Linger2 = int(v) }},
	{name: "tcp_max_connections", unit: "count", cfg: "max_connections", get: func(_ *Config, r *Runtime) string { return fmtInt(r.MaxConnections) },
		set: func(r *Runtime, v int64) { r.MaxConnections = int(v) }},
	{name: "tcp_msg_data_timeout", unit: "s", get: func(c *Config, _ *Runtime) string { return fmtSec(c.MsgDataTimeout) }},
	{name: "tcp_msg_read_timeout", unit: "s", get: func(c *Config, _ *Runtime) string { return fmtSec(c.MsgReadTimeout) }},
	{name: "tcp_no_connect", unit: "bool", cfg: "no_connect", get: func(_ *Config, r *Runtime) string { return fmtBool(r.NoConnect) },
		set: func(r *Runtime, v int64) { r.NoConnect = v != 0 }},
	{name: "tcp_poll_method", unit: "name", get: func(c *Config, _ *Runtime) string { return c.PollMethod }},
	{name: "tcp_rd_buf_size", unit: "bytes", cfg: "rd_buf_size", get: func(_ *Config, r *Runtime) string { return fmtInt(r.RdBufSize) },
		set: func(r *Runtime, v int64) { r.RdBufSize = int(v) }},
	{name: "tcp_reuse_port", unit: "bool", cfg: "reuse_port", get: func(_ *Config, r *Runtime) string { return fmtBool(r.ReusePort) },
		set: func(r *Runtime, v int64) { r.ReusePort = v != 0 }},
	{name: "tcp_script_mode", unit: "bitmask", get: func(c *Config, _ *Runtime) string { return fmtInt(c.ScriptMode) }},
	{name: "tcp_send_timeout", unit: "s", cfg: "send_timeout", neg: true,
		get: func(_ *Config, r *Runtime) string { return fmtSec(r.SendTimeout) },
		set: func(r *Runtime, v int64) { r.SendTimeout = secs(v) }},
	{name: "tcp_source_ipv4", unit: "IPv4", get: func(c *Config, _ *Runtime) string { return addrString(c.SourceIPv4) }},
	{name: "tcp_source_ipv6", unit: "IPv6", get: func(c *Config, _ *Runtime) string { return addrString(c.SourceIPv6) }},
	{name: "tcp_syncnt", unit: "count", cfg: "syncnt", get: func(_ *Config, r *Runtime) string { return fmtInt(r.SynCnt) },
		set: func(r *Runtime, v int64) { r.SynCnt = int(v) }},
	{name: "tcp_wait_data", unit: "ms", cfg: "wait_data_ms", neg: true,
		get: func(_ *Config, r *Runtime) string { return strconv.FormatInt(r.WaitData.Milliseconds(), 10) },
		set: func(r *Runtime, v int64) { r.WaitData = time.Duration(max(v, -1)) * time.Millisecond }},
	{name: "tcp_wq_blk_size", unit: "bytes", cfg: "wq_blk_size", get: func(_ *Config, r *Runtime) string { return fmtInt(r.WQBlkSize) },
		set: func(r *Runtime, v int64) { r.WQBlkSize = int(v) }},
	{name: "tcp_wq_max", unit: "bytes", cfg: "wq_max", get: func(_ *Config, r *Runtime) string { return fmtInt(r.WQMax) },
		set: func(r *Runtime, v int64) { r.WQMax = int(v) }},
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// lookupParam finds a parameter by its config-file name (tcp_keepidle), its
// cfg name (keepidle) or the alias tcp_buf_write, case-insensitively.
func lookupParam(name string) (*param, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	if n == "tcp_buf_write" || n == "buf_write" {
		n = "tcp_async"
	}
	for i := range params {
		p := &params[i]
		if n == p.name || (p.cfg != "" && n == p.cfg) {
			return p, true
		}
	}
	return nil, false
}

// ParamInfo describes one parameter for configuration loaders, the admin
// API and documentation.
type ParamInfo struct {
	Name    string // config-file name (tcp_keepidle)
	CfgName string // Kamailio cfg-framework name (keepidle), "" if none
	Unit    string // bool, s, ms, bytes, count, …
	Default string // hepd's default, as GetParams writes it
	Runtime bool   // SetParam can change it
}

// Params describes every tcp_* parameter (and disable_tcp), sorted by name.
func Params() []ParamInfo {
	def := DefaultConfig()
	rt := runtimeOf(def)
	out := make([]ParamInfo, len(params))
	for i, p := range params {
		out[i] = ParamInfo{Name: p.name, CfgName: p.cfg, Unit: p.unit, Default: p.get(&def, &rt), Runtime: p.set != nil}
	}
	slices.SortFunc(out, func(a, b ParamInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// RuntimeNames returns the config-file names of the parameters SetParam can
// change while the stack runs, sorted.
func RuntimeNames() []string {
	var out []string
	for _, p := range params {
		if p.set != nil {
			out = append(out, p.name)
		}
	}
	slices.Sort(out)
	return out
}

// ParamNames returns the config-file names of every tcp_* parameter (and
// disable_tcp), sorted: the keys of GetParams.
func ParamNames() []string {
	out := make([]string, len(params))
	for i, p := range params {
		out[i] = p.name
	}
	slices.Sort(out)
	return out
}

// GetParams returns every parameter's value in effect, by config-file name,
// in Kamailio's units and syntax (yes/no, seconds, ms for tcp_wait_data).
func (s *Stack) GetParams() map[string]string {
	rt := s.rt.Load()
	out := make(map[string]string, len(params))
	for _, p := range params {
		out[p.name] = p.get(&s.cfg, rt)
	}
	return out
}

// SetParam changes one runtime parameter by name (config-file or cfg name)
// from a value in Kamailio's syntax (spec §0.1: yes/no/on/off/true/false/
// enable/disable, decimal, 0x hex, leading-0 octal, b-suffixed binary; a
// minus only for the intno parameters). It returns the old and new values
// as GetParams would show them. A start-up-only or read-only parameter
// fails with ErrNeedsRestart; an out-of-range value is refused.
func (s *Stack) SetParam(name, value string) (old, new string, err error) {
	p, ok := lookupParam(name)
	if !ok {
		return "", "", fmt.Errorf("tcpstack: unknown parameter %q (runtime parameters: %s)", name, strings.Join(RuntimeNames(), ", "))
	}
	if p.set == nil {
		return "", "", fmt.Errorf("tcpstack: %s: %w (runtime parameters: %s)", p.name, ErrNeedsRestart, strings.Join(RuntimeNames(), ", "))
	}
	v, err := parseIntno(value, p.neg)
	if err != nil {
		return "", "", fmt.Errorf("tcpstack: %s: %w", p.name, err)
	}
	s.rtMu.Lock()
	defer s.rtMu.Unlock()
	cur := s.rt.Load()
	r := *cur
	p.set(&r, v)
	prev, err := s.setRuntimeLocked(r)
	if err != nil {
		return "", "", err
	}
	return p.get(&s.cfg, &prev), p.get(&s.cfg, s.rt.Load()), nil
}

// parseIntno parses Kamailio's number-or-boolean token (spec §0.1).
func parseIntno(v string, neg bool) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	switch s {
	case "yes", "true", "on", "enable":
		return 1, nil
	case "no", "false", "off", "disable":
		return 0, nil
	}
	sign := int64(1)
	if strings.HasPrefix(s, "-") {
		if !neg {
			return 0, fmt.Errorf("%q: a negative value is not allowed", v)
		}
		sign, s = -1, s[1:]
	}
	base := 10
	switch {
	case strings.HasPrefix(s, "0x"):
		base, s = 16, s[2:]
	case strings.HasSuffix(s, "b") && len(s) > 1:
		base, s = 2, s[:len(s)-1]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	n, err := strconv.ParseInt(s, base, 64)
	if err != nil || s == "" || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("%q is not a number or yes/no", v)
	}
	return sign * n, nil
}
