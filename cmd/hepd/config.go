package main

import (
	"bufio"
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	env "github.com/caarlos0/env/v10"

	"github.com/hepd/hepd/ingest/sip"
	"github.com/hepd/hepd/tcpstack"
)

// Config is hepd's whole configuration. Every field is one parameter:
//
//   - cfg: its name in a config file (`name = value`) and on the command line
//     (-name value); tcp_* names are Kamailio's, with Kamailio's meaning;
//   - env: its environment variable, HEPD_ + the name in upper case;
//   - default, unit: as written in a config file; the README table is kept in
//     step with these tags by TestREADMEConfigTable;
//   - min/max or oneof: what is allowed, checked at start-up.
//
// Sources, lowest first: defaults, the config file (-config or HEPD_CONFIG),
// the environment, flags.
type Config struct {
	HEPListen   List `cfg:"hep_listen" env:"HEPD_HEP_LISTEN" default:"0.0.0.0:9060" unit:"list of ip:port" help:"HEP listen addresses, for UDP and TCP alike; they take raw SIP too, unless an auth key is required there"`
	SIPListen   List `cfg:"sip_listen" env:"HEPD_SIP_LISTEN" default:"0.0.0.0:5060" unit:"list of ip:port" help:"raw SIP capture addresses, for UDP and TCP alike (like Kamailio's listen=); none captures SIP on hep_listen only"`
	HEPAuthKey  Str  `cfg:"hep_auth_key" env:"HEPD_HEP_AUTH_KEY" default:"" unit:"string" help:"HEP capture password (chunk 0x000e: Kamailio siptrace auth_key, heplify -hp, captagent capture-password) every HEP packet must carry, on every hep_listen and sip_listen address; empty checks nothing (see Authentication)"`
	HEPAuthKeys List `cfg:"hep_auth_keys" env:"HEPD_HEP_AUTH_KEYS" default:"" unit:"list of ip:port=key" help:"per-address keys in place of hep_auth_key, e.g. 10.0.0.1:9061=tenantB; ip:port= checks nothing there; each address must be one of hep_listen or sip_listen"`
	DisableTCP  Bool `cfg:"disable_tcp" env:"HEPD_DISABLE_TCP" default:"no" unit:"bool" help:"open no TCP socket; UDP capture keeps working"`
	UDPRcvBuf   Int  `cfg:"udp_rcvbuf" env:"HEPD_UDP_RCVBUF" default:"0" unit:"bytes" min:"0" max:"1073741824" help:"SO_RCVBUF of each UDP socket; 0 keeps the kernel default; hepd refuses to start if the kernel caps it (raise net.core.rmem_max)"`
	UDPReaders  Int  `cfg:"udp_readers" env:"HEPD_UDP_READERS" default:"2" unit:"count" min:"1" max:"64" help:"goroutines reading each UDP socket at once (like Kamailio's children for UDP): while one decodes and stores its datagrams, another reads"`

	TCPAcceptAliases      Bool `cfg:"tcp_accept_aliases" env:"HEPD_TCP_ACCEPT_ALIASES" default:"no" unit:"bool" help:"a SIP request whose top Via has ;alias registers the Via's sent-by port as an alias of its connection"`
	TCPAcceptHAProxy      Bool `cfg:"tcp_accept_haproxy" env:"HEPD_TCP_ACCEPT_HAPROXY" default:"no" unit:"bool" help:"every TCP connection must begin with a PROXY protocol v1/v2 header within tcp_wait_data; its source is the connection's address"`
	TCPAcceptHEP3         Bool `cfg:"tcp_accept_hep3" env:"HEPD_TCP_ACCEPT_HEP3" default:"yes" unit:"bool" help:"a message that starts with HEP3 is a HEP3 frame; otherwise every TCP message is read as SIP. Differs from Kamailio (default no): see below"`
	TCPAcceptIPLimit      Int  `cfg:"tcp_accept_iplimit" env:"HEPD_TCP_ACCEPT_IPLIMIT" default:"1024" unit:"count" min:"0" max:"2147483647" help:"open TCP connections from one source IP (the socket's peer, before PROXY) at most; one more is accepted and closed at once; 0 is no limit"`
	TCPAcceptNoCL         Bool `cfg:"tcp_accept_no_cl" env:"HEPD_TCP_ACCEPT_NO_CL" default:"no" unit:"bool" help:"accept a SIP message without Content-Length over TCP (it ends at the end of its headers); no closes the connection"`
	TCPAcceptUnique       Bool `cfg:"tcp_accept_unique" env:"HEPD_TCP_ACCEPT_UNIQUE" default:"no" unit:"bool" help:"refuse a second connection from the same source ip:port"`
	TCPAsync              Bool `cfg:"tcp_async" env:"HEPD_TCP_ASYNC" alias:"tcp_buf_write" default:"yes" unit:"bool" help:"writes that would block are queued (tcp_conn_wq_max, tcp_wq_max) instead of blocking the writer; alias tcp_buf_write"`
	TCPCheckTimer         Int  `cfg:"tcp_check_timer" env:"HEPD_TCP_CHECK_TIMER" default:"-1" unit:"s" min:"-1" max:"134217727" help:"0 turns tcp_msg_read_timeout and tcp_msg_data_timeout off, another value on; -1 is Kamailio's default, min(tcp_msg_read_timeout, tcp_msg_data_timeout)/2. Differs from Kamailio (the period of a sweep): see below"`
	TCPChildren           Int  `cfg:"tcp_children" env:"HEPD_TCP_CHILDREN" default:"8" unit:"count" min:"1" max:"1024" help:"TCP reader workers, each with its own poller and connections"`
	TCPCloneRcvBuf        Bool `cfg:"tcp_clone_rcvbuf" env:"HEPD_TCP_CLONE_RCVBUF" default:"no" unit:"bool" help:"hand each message on as its own copy instead of a view of the read buffer"`
	TCPConnectionLifetime Int  `cfg:"tcp_connection_lifetime" env:"HEPD_TCP_CONNECTION_LIFETIME" default:"120" unit:"s" min:"-1" max:"2147483647" help:"a connection idle this long is closed; each read extends it; -1 means the maximum; runtime changes apply to new connections"`
	TCPConnectionMatch    Int  `cfg:"tcp_connection_match" env:"HEPD_TCP_CONNECTION_MATCH" default:"0" unit:"mode" min:"0" max:"1" help:"outbound reuse: 0 matches an existing connection by remote address or alias, 1 also by local address"`
	TCPConnectTimeout     Int  `cfg:"tcp_connect_timeout" env:"HEPD_TCP_CONNECT_TIMEOUT" default:"10" unit:"s" min:"-1" max:"134217727" help:"an outbound connect that takes longer fails; -1 means the default"`
	TCPConnWQMax          Int  `cfg:"tcp_conn_wq_max" env:"HEPD_TCP_CONN_WQ_MAX" default:"32768" unit:"bytes" min:"0" max:"1048576" help:"queued bytes per connection at most; more closes it"`
	TCPCRLFPing           Bool `cfg:"tcp_crlf_ping" env:"HEPD_TCP_CRLF_PING" default:"yes" unit:"bool" help:"answer a CRLFCRLF keep-alive with CRLF"`
	TCPDeferAccept        Int  `cfg:"tcp_defer_accept" env:"HEPD_TCP_DEFER_ACCEPT" default:"0" unit:"s" min:"0" max:"3600" help:"TCP_DEFER_ACCEPT on the listener: a connection is accepted only once it has data; 0 is off"`
	TCPDelayedAck         Bool `cfg:"tcp_delayed_ack" env:"HEPD_TCP_DELAYED_ACK" default:"yes" unit:"bool" help:"keep delayed ACKs on outbound connections; no sets TCP_QUICKACK"`
	TCPFDCache            Bool `cfg:"tcp_fd_cache" env:"HEPD_TCP_FD_CACHE" default:"yes" unit:"bool" help:"a writer outside a connection's worker writes on the socket directly; no hands the bytes to the worker"`
	TCPKeepalive          Bool `cfg:"tcp_keepalive" env:"HEPD_TCP_KEEPALIVE" default:"yes" unit:"bool" help:"SO_KEEPALIVE on TCP sockets; runtime changes apply to new outbound sockets"`
	TCPKeepCnt            Int  `cfg:"tcp_keepcnt" env:"HEPD_TCP_KEEPCNT" default:"0" unit:"count" min:"0" max:"1024" help:"TCP_KEEPCNT; 0 keeps the kernel's; non-zero turns tcp_keepalive on"`
	TCPKeepIdle           Int  `cfg:"tcp_keepidle" env:"HEPD_TCP_KEEPIDLE" default:"0" unit:"s" min:"0" max:"86400" help:"TCP_KEEPIDLE; 0 keeps the kernel's; non-zero turns tcp_keepalive on"`
	TCPKeepIntvl          Int  `cfg:"tcp_keepintvl" env:"HEPD_TCP_KEEPINTVL" default:"0" unit:"s" min:"0" max:"86400" help:"TCP_KEEPINTVL; 0 keeps the kernel's; non-zero turns tcp_keepalive on"`
	TCPLinger2            Int  `cfg:"tcp_linger2" env:"HEPD_TCP_LINGER2" default:"0" unit:"s" min:"0" max:"3600" help:"TCP_LINGER2 (FIN_WAIT2 lifetime); 0 keeps the kernel's"`
	TCPMaxConnections     Int  `cfg:"tcp_max_connections" env:"HEPD_TCP_MAX_CONNECTIONS" default:"2048" unit:"count" min:"0" max:"2147483647" help:"open TCP connections at most; one more is accepted and closed at once; a runtime value is capped at the start-up value"`
	TCPMsgDataTimeout     Int  `cfg:"tcp_msg_data_timeout" env:"HEPD_TCP_MSG_DATA_TIMEOUT" default:"20" unit:"s" min:"0" max:"134217727" help:"a new TCP connection must deliver one complete message (pings do not count) within this long of accept, or it is closed; 0 is off"`
	TCPMsgReadTimeout     Int  `cfg:"tcp_msg_read_timeout" env:"HEPD_TCP_MSG_READ_TIMEOUT" default:"20" unit:"s" min:"0" max:"134217727" help:"a TCP message must be complete within this long of its first bytes, or its connection is closed (slowloris); 0 is off. Differs from Kamailio (0 closes at every read): see below"`
	TCPNoConnect          Bool `cfg:"tcp_no_connect" env:"HEPD_TCP_NO_CONNECT" default:"no" unit:"bool" help:"refuse new outbound connections"`
	TCPPollMethod         Str  `cfg:"tcp_poll_method" env:"HEPD_TCP_POLL_METHOD" default:"none" unit:"name" help:"I/O readiness method of the workers: none (best), epoll_lt, epoll_et, poll, select"`
	TCPRdBufSize          Int  `cfg:"tcp_rd_buf_size" env:"HEPD_TCP_RD_BUF_SIZE" default:"65536" unit:"bytes" min:"512" max:"16777216" help:"largest message accepted on a TCP connection; a larger one closes the connection; runtime changes apply to new connections. Differs from Kamailio (default 16384): see below"`
	TCPReusePort          Bool `cfg:"tcp_reuse_port" env:"HEPD_TCP_REUSE_PORT" default:"no" unit:"bool" help:"SO_REUSEPORT: several hepd processes may listen on one port"`
	TCPScriptMode         Int  `cfg:"tcp_script_mode" env:"HEPD_TCP_SCRIPT_MODE" default:"0" unit:"mode" min:"0" max:"1" help:"a message that cannot be stored (no Call-ID, no CSeq): 0 closes its connection, 1 goes on"`
	TCPSendTimeout        Int  `cfg:"tcp_send_timeout" env:"HEPD_TCP_SEND_TIMEOUT" default:"10" unit:"s" min:"-1" max:"2147483647" help:"a connection whose writes cannot drain for this long is closed; also TCP_USER_TIMEOUT"`
	TCPSourceIPv4         Str  `cfg:"tcp_source_ipv4" env:"HEPD_TCP_SOURCE_IPV4" default:"" unit:"ip" help:"source address of outbound IPv4 connections; empty lets the kernel choose"`
	TCPSourceIPv6         Str  `cfg:"tcp_source_ipv6" env:"HEPD_TCP_SOURCE_IPV6" default:"" unit:"ip" help:"source address of outbound IPv6 connections; empty lets the kernel choose"`
	TCPSynCnt             Int  `cfg:"tcp_syncnt" env:"HEPD_TCP_SYNCNT" default:"0" unit:"count" min:"0" max:"1024" help:"TCP_SYNCNT (SYN retries) of outbound connections; 0 keeps the kernel's"`
	TCPWaitData           Int  `cfg:"tcp_wait_data" env:"HEPD_TCP_WAIT_DATA" default:"5000" unit:"ms" min:"0" max:"7200000" help:"how long a new connection may take to send its PROXY header (tcp_accept_haproxy)"`
	TCPWQBlkSize          Int  `cfg:"tcp_wq_blk_size" env:"HEPD_TCP_WQ_BLK_SIZE" default:"2100" unit:"bytes" min:"1" max:"65535" help:"block size of the write queues"`
	TCPWQMax              Int  `cfg:"tcp_wq_max" env:"HEPD_TCP_WQ_MAX" default:"10485760" unit:"bytes" min:"0" max:"1073741824" help:"queued bytes over all connections at most"`

	DBDSN       Str `cfg:"db_dsn" env:"HEPD_DB_DSN" default:"" unit:"dsn" help:"PostgreSQL to write to; empty starts hepd's own local cluster under data_dir"`
	DataDir     Str `cfg:"data_dir" env:"HEPD_DATA_DIR" default:"" unit:"path" help:"folder for hepd's own PostgreSQL cluster (pg/, when db_dsn is empty) and the disk spool (spool/, see spool_dir); empty means ./hepd-data, or /var/lib/hepd when run as root"`
	LocalDBPort Int `cfg:"local_db_port" env:"HEPD_LOCAL_DB_PORT" default:"9432" unit:"port" min:"1" max:"65535" help:"loopback port of hepd's own PostgreSQL cluster"`

	DBBatchRows         Int  `cfg:"db_batch_rows" env:"HEPD_DB_BATCH_ROWS" default:"500" unit:"rows" min:"1" max:"1000000" help:"a table's batch is written when it holds this many rows; while every writer is busy it fills up to 4 times that"`
	DBFlushMS           Int  `cfg:"db_flush_ms" env:"HEPD_DB_FLUSH_MS" default:"200" unit:"ms" min:"1" max:"60000" help:"a non-empty batch is written at the latest this long after its first row"`
	DBWriters           Int  `cfg:"db_writers" env:"HEPD_DB_WRITERS" default:"2" unit:"count" min:"1" max:"64" help:"parallel COPY connections"`
	DBIndexProfile      Str  `cfg:"db_index_profile" env:"HEPD_DB_INDEX_PROFILE" default:"homer" unit:"name" oneof:"homer,lean" help:"per-partition indexes: homer (Homer 7's full set) or lean (hash on sid; BRIN on create_date with bloom filters of from_user and to_user; see Performance); applies to partitions created from then on"`
	DBSynchronousCommit Bool `cfg:"db_synchronous_commit" env:"HEPD_DB_SYNCHRONOUS_COMMIT" default:"yes" unit:"bool" help:"no sets synchronous_commit = off for the writer sessions: faster commits, but a database crash may lose its last committed rows"`
	DBMaxPending        Int  `cfg:"db_max_pending" env:"HEPD_DB_MAX_PENDING" default:"200000" unit:"rows" min:"1" max:"100000000" help:"rows buffered before readers pause (TCP then pushes back on agents)"`
	SpoolDir            Str  `cfg:"spool_dir" env:"HEPD_SPOOL_DIR" default:"" unit:"path" help:"disk spool: batches go here while the database is unreachable or cannot keep up, and are replayed in order when it can; empty means data_dir/spool; none disables it (batches then wait in memory, up to db_max_pending)"`
	SpoolMaxMB          Int  `cfg:"spool_max_mb" env:"HEPD_SPOOL_MAX_MB" default:"1024" unit:"MiB" min:"4" max:"16777216" help:"the spool's size on disk at most; when full, batches wait in memory and readers pause (TCP pushes back on agents)"`

	DBPartSIP  Str `cfg:"db_part_sip" env:"HEPD_DB_PART_SIP" default:"1h" unit:"step" oneof:"5m,10m,15m,20m,30m,45m,1h,2h,6h,12h,1d" help:"partition size of the SIP tables"`
	DBPartQoS  Str `cfg:"db_part_qos" env:"HEPD_DB_PART_QOS" default:"6h" unit:"step" oneof:"5m,10m,15m,20m,30m,45m,1h,2h,6h,12h,1d" help:"partition size of hep_proto_5_default and hep_proto_35_default"`
	DBPartLog  Str `cfg:"db_part_log" env:"HEPD_DB_PART_LOG" default:"2h" unit:"step" oneof:"5m,10m,15m,20m,30m,45m,1h,2h,6h,12h,1d" help:"partition size of hep_proto_100_default"`
	DBPartISUP Str `cfg:"db_part_isup" env:"HEPD_DB_PART_ISUP" default:"6h" unit:"step" oneof:"5m,10m,15m,20m,30m,45m,1h,2h,6h,12h,1d" help:"partition size of hep_proto_54_default and hep_proto_53_default"`

	DBDropDays         Int `cfg:"db_drop_days" env:"HEPD_DB_DROP_DAYS" default:"14" unit:"days" min:"1" max:"36500" help:"partitions older than this are dropped (today counts as one)"`
	DBDropDaysCall     Int `cfg:"db_drop_days_call" env:"HEPD_DB_DROP_DAYS_CALL" default:"0" unit:"days" min:"0" max:"36500" help:"retention of hep_proto_1_call; 0 uses db_drop_days"`
	DBDropDaysRegister Int `cfg:"db_drop_days_register" env:"HEPD_DB_DROP_DAYS_REGISTER" default:"0" unit:"days" min:"0" max:"36500" help:"retention of hep_proto_1_registration; 0 uses db_drop_days"`
	DBDropDaysDefault  Int `cfg:"db_drop_days_default" env:"HEPD_DB_DROP_DAYS_DEFAULT" default:"0" unit:"days" min:"0" max:"36500" help:"retention of hep_proto_1_default; 0 uses db_drop_days"`

	SIPHeaders    List `cfg:"sip_headers" env:"HEPD_SIP_HEADERS" default:"ruri_user,ruri_domain,from_user,from_tag,to_user,to_tag,callid,cseq,method,user_agent" unit:"list" help:"data_header keys of SIP rows (Homer 7 names)"`
	CustomHeaders List `cfg:"custom_headers" env:"HEPD_CUSTOM_HEADERS" default:"" unit:"list" help:"extra SIP headers copied into data_header under their own name"`
	ALegHeaders   List `cfg:"aleg_headers" env:"HEPD_ALEG_HEADERS" default:"" unit:"list" help:"headers carrying the A-leg Call-ID (e.g. X-CID), used as correlation_id when the agent sent none"`
	ForceALegID   Bool `cfg:"force_aleg_id" env:"HEPD_FORCE_ALEG_ID" default:"no" unit:"bool" help:"prefer the A-leg header over the agent's correlation id"`

	AdminToken      Str `cfg:"admin_token" env:"HEPD_ADMIN_TOKEN" default:"" unit:"string" help:"when set, every admin API request needs 'Authorization: Bearer <token>' (hepd ctl -token)"`
	AdminListen     Str `cfg:"admin_listen" env:"HEPD_ADMIN_LISTEN" default:"127.0.0.1:9096" unit:"ip:port" help:"admin HTTP API and /metrics; empty disables it"`
	LogLevel        Str `cfg:"log_level" env:"HEPD_LOG_LEVEL" default:"info" unit:"name" oneof:"debug,info,warn,error" help:"least severe log level written"`
	ShutdownTimeout Int `cfg:"shutdown_timeout" env:"HEPD_SHUTDOWN_TIMEOUT" default:"60" unit:"s" min:"1" max:"3600" help:"how long SIGTERM waits for readers to drain and batches to be written"`
}

// param describes one Config field, read from its tags.
type param struct {
	name, env, def, unit, help string
	alias                      string // another name Kamailio accepts (tcp_buf_write)
	min, max                   *int64
	oneof                      []string
	index                      int
}

func params() []param {
	t := reflect.TypeFor[Config]()
	ps := make([]param, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		p := param{
			name: f.Tag.Get("cfg"), env: f.Tag.Get("env"), def: f.Tag.Get("default"),
			unit: f.Tag.Get("unit"), help: f.Tag.Get("help"), index: i, alias: f.Tag.Get("alias"),
		}
		if v, ok := f.Tag.Lookup("min"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			p.min = &n
		}
		if v, ok := f.Tag.Lookup("max"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			p.max = &n
		}
		if v, ok := f.Tag.Lookup("oneof"); ok {
			p.oneof = strings.Split(v, ",")
		}
		ps = append(ps, p)
	}
	return ps
}

// secret reports a parameter whose value must not leave hepd (admin API,
// logs).
func (p param) secret() bool {
	switch p.name {
	case "admin_token", "db_dsn", "hep_auth_key", "hep_auth_keys":
		return true
	}
	return false
}

func (p param) field(c *Config) reflect.Value { return reflect.ValueOf(c).Elem().Field(p.index) }

// set parses value into the parameter's field; from says where it came from.
func (p param) set(c *Config, value, from string) error {
	u := p.field(c).Addr().Interface().(encoding.TextUnmarshaler)
	if err := u.UnmarshalText([]byte(value)); err != nil {
		return &ValueError{Param: p.name, Value: value, From: from, Reason: err.Error()}
	}
	return nil
}

func (p param) get(c *Config) string { return p.field(c).Interface().(fmt.Stringer).String() }

// ValueError is a configuration value hepd refuses.
type ValueError struct {
	Param, Value, From, Reason string
}

func (e *ValueError) Error() string {
	from := ""
	if e.From != "" {
		from = " (" + e.From + ")"
	}
	return fmt.Sprintf("%s: invalid value %q%s: %s", e.Param, e.Value, from, e.Reason)
}

// defaultConfig returns the configuration with every default applied.
func defaultConfig() Config {
	var c Config
	for _, p := range params() {
		if err := p.set(&c, p.def, "default"); err != nil {
			panic(err) // a broken default tag is a programming error
		}
	}
	return c
}

// loadConfig builds the configuration from defaults, the config file, the
// environment and the command-line flags, then validates it.
func loadConfig(args []string, environ map[string]string, stderr io.Writer) (Config, error) {
	c := defaultConfig()
	ps := params()
	from := make(map[string]string, len(ps)) // parameter → where its value came from

	fs := flag.NewFlagSet("hepd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", environ["HEPD_CONFIG"], "Kamailio-style config file (`name = value` lines)")
	type flagValue struct {
		p     param
		value string
	}
	var flagged []flagValue
	for _, p := range ps {
		set := func(v string) error {
			flagged = append(flagged, flagValue{p, v})
			return nil
		}
		fs.Func(p.name, p.help+" (default "+strconv.Quote(p.def)+")", set)
		if p.alias != "" {
			fs.Func(p.alias, "alias of -"+p.name, set)
		}
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (parameters are given as -name value)", fs.Arg(0))
	}

	if *configFile != "" {
		f, err := os.Open(*configFile)
		if err != nil {
			return c, fmt.Errorf("config file: %w", err)
		}
		err = parseConfigFile(f, *configFile, &c, from)
		f.Close()
		if err != nil {
			return c, err
		}
	}

	if err := parseEnv(&c, environ, from); err != nil {
		return c, err
	}
	for _, fv := range flagged {
		if err := fv.p.set(&c, fv.value, "flag -"+fv.p.name); err != nil {
			return c, err
		}
		from[fv.p.name] = "flag -" + fv.p.name
	}
	return c, validate(&c, from)
}

// parseConfigFile reads `name = value` lines; # starts a comment, blank lines
// are skipped, an unknown name is an error (a typo must not pass silently).
func parseConfigFile(r io.Reader, path string, c *Config, from map[string]string) error {
	byName := map[string]param{}
	for _, p := range params() {
		byName[p.name] = p
		if p.alias != "" {
			byName[p.alias] = p
		}
	}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := commentStart(line); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		where := fmt.Sprintf("%s:%d", path, n)
		name, value, ok := strings.Cut(line, "=")
		if !ok {
			return fmt.Errorf("%s: want `name = value`, got %q", where, line)
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		p, ok := byName[name]
		if !ok {
			return fmt.Errorf("%s: unknown parameter %q", where, name)
		}
		if err := p.set(c, value, where); err != nil {
			return err
		}
		from[name] = where
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// commentStart finds a # that is not inside a quoted string.
func commentStart(line string) int {
	var quote byte
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			return i
		}
	}
	return -1
}

// parseEnv reads HEPD_* variables with caarlos0/env and names the variable
// in any error.
func parseEnv(c *Config, environ map[string]string, from map[string]string) error {
	// An alias's variable (HEPD_TCP_BUF_WRITE) stands in for the
	// parameter's own when that is unset.
	for _, p := range params() {
		aliasEnv := "HEPD_" + strings.ToUpper(p.alias)
		if v, ok := environ[aliasEnv]; ok && p.alias != "" {
			if _, set := environ[p.env]; !set {
				environ = maps.Clone(environ)
				environ[p.env] = v
			}
		}
	}
	err := env.ParseWithOptions(c, env.Options{
		Environment: environ,
		OnSet: func(tag string, _ any, isDefault bool) {
			if !isDefault {
				from[strings.ToLower(strings.TrimPrefix(tag, "HEPD_"))] = "environment " + tag
			}
		},
	})
	if err == nil {
		return nil
	}
	var agg env.AggregateError
	if errors.As(err, &agg) {
		for _, e := range agg.Errors {
			var pe env.ParseError
			if errors.As(e, &pe) {
				if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
					v := environ[f.Tag.Get("env")]
					return &ValueError{Param: f.Tag.Get("cfg"), Value: v, From: "environment " + f.Tag.Get("env"), Reason: pe.Err.Error()}
				}
			}
		}
	}
	return fmt.Errorf("environment: %w", err)
}

// validate checks every value against its allowed range or set, and the
// values whose syntax the field types cannot check.
func validate(c *Config, from map[string]string) error {
	for _, p := range params() {
		v := p.field(c)
		bad := func(reason string) error {
			return &ValueError{Param: p.name, Value: p.get(c), From: from[p.name], Reason: reason}
		}
		if v.Kind() == reflect.Int64 {
			n := v.Int()
			switch {
			case p.min != nil && p.max != nil && (n < *p.min || n > *p.max):
				return bad(fmt.Sprintf("allowed: %d to %d", *p.min, *p.max))
			case p.min != nil && n < *p.min:
				return bad(fmt.Sprintf("allowed: %d or more", *p.min))
			}
		}
		if p.oneof != nil && !slices.Contains(p.oneof, p.get(c)) {
			return bad("allowed: " + strings.Join(p.oneof, ", "))
		}
	}
	if _, err := sipKeys(c.SIPHeaders); err != nil {
		return &ValueError{Param: "sip_headers", Value: c.SIPHeaders.String(), From: from["sip_headers"],
			Reason: err.Error() + "; allowed: " + allSIPKeys()}
	}
	if err := tcpstack.CheckPollMethod(string(c.TCPPollMethod)); err != nil {
		return &ValueError{Param: "tcp_poll_method", Value: string(c.TCPPollMethod), From: from["tcp_poll_method"],
			Reason: strings.TrimPrefix(err.Error(), "tcp_poll_method: ")}
	}
	for _, h := range []struct {
		name string
		list List
		opts sip.Options
	}{
		{"custom_headers", c.CustomHeaders, sip.Options{ExtraHeaders: c.CustomHeaders}},
		{"aleg_headers", c.ALegHeaders, sip.Options{ALegHeaders: c.ALegHeaders}},
	} {
		if _, err := sip.NewParser(h.opts); err != nil {
			return &ValueError{Param: h.name, Value: h.list.String(), From: from[h.name], Reason: err.Error()}
		}
	}
	for _, ip := range []struct {
		name  string
		value Str
		v4    bool
	}{{"tcp_source_ipv4", c.TCPSourceIPv4, true}, {"tcp_source_ipv6", c.TCPSourceIPv6, false}} {
		if ip.value == "" {
			continue
		}
		a, err := netip.ParseAddr(string(ip.value))
		if err != nil || a.Is4() != ip.v4 || a.Zone() != "" {
			want := "an IPv6 address"
			if ip.v4 {
				want = "an IPv4 address"
			}
			return &ValueError{Param: ip.name, Value: string(ip.value), From: from[ip.name], Reason: "want " + want + " of this host, or empty"}
		}
	}
	type addrCheck struct {
		name  string
		value Str
		empty bool
	}
	listen := []addrCheck{{"admin_listen", c.AdminListen, true}}
	if len(c.HEPListen) == 0 {
		return &ValueError{Param: "hep_listen", Value: c.HEPListen.String(), From: from["hep_listen"], Reason: "want at least one IP:port"}
	}
	for _, a := range c.HEPListen {
		listen = append(listen, addrCheck{"hep_listen", Str(a), false})
	}
	for _, a := range c.SIPListen {
		listen = append(listen, addrCheck{"sip_listen", Str(a), false})
	}
	for _, check := range listen {
		if check.empty && check.value == "" {
			continue
		}
		if _, err := netip.ParseAddrPort(string(check.value)); err != nil {
			return &ValueError{Param: check.name, Value: string(check.value), From: from[check.name], Reason: "want IP:port, e.g. 0.0.0.0:9060 or [::]:9060"}
		}
	}
	if _, err := authKeys(c); err != nil {
		// The value holds secrets: the message names the entry, not the keys.
		return &ValueError{Param: "hep_auth_keys", Value: "…", From: from["hep_auth_keys"], Reason: err.Error()}
	}
	return nil
}

// authKeys parses hep_auth_keys into a key per listen address (an empty key
// turns the check off there).
func authKeys(c *Config) (map[netip.AddrPort]string, error) {
	listen := listenAddrs(*c)
	out := map[netip.AddrPort]string{}
	for i, item := range c.HEPAuthKeys {
		addr, key, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("entry %d: want ip:port=key, e.g. 0.0.0.0:9060=secret", i+1)
		}
		addr = strings.TrimSpace(addr)
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %q is not an ip:port (want ip:port=key, e.g. 0.0.0.0:9060=secret)", i+1, addr)
		}
		if !slices.Contains(listen, ap) {
			return nil, fmt.Errorf("entry %d: %s is not an address of hep_listen or sip_listen", i+1, ap)
		}
		if _, dup := out[ap]; dup {
			return nil, fmt.Errorf("entry %d: %s given twice", i+1, ap)
		}
		var k Str // quotes allowed, as around any string ("a#b" in a config file)
		k.UnmarshalText([]byte(key))
		out[ap] = string(k)
	}
	return out, nil
}
