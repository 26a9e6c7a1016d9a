package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

const ctlUsage = `usage: hepd ctl [-addr ip:port] [-token T] COMMAND

commands:
  stats                    every counter of every part, as JSON
  db                       the database writers and the disk spool: state,
                           rows waiting in the spool, replay progress
  tcp info                 TCP totals and per-worker counts
  tcp list                 every TCP connection
  cfg get [NAME]           configuration values (all, or one)
  cfg set NAME VALUE       change a parameter at runtime (Kamailio can change
                           it at runtime too); others answer "needs restart"

NAME is a parameter name such as tcp_rd_buf_size, or Kamailio's cfg name
such as tcp.rd_buf_size.
`

// runCtl is `hepd ctl`: a client of the admin API of a running hepd.
func runCtl(args []string, environ map[string]string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hepd ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, ctlUsage) }
	addr := fs.String("addr", firstNonEmpty(environ["HEPD_ADMIN_LISTEN"], "127.0.0.1:9096"), "admin API address of the hepd to talk to")
	token := fs.String("token", environ["HEPD_ADMIN_TOKEN"], "admin API token, if hepd requires one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	c := ctlClient{base: "http://" + *addr, token: *token, http: &http.Client{Timeout: 10 * time.Second}}
	err := c.run(fs.Args(), stdout)
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "hepd ctl: %v\n%s", err, ctlUsage)
		return 2
	default:
		fmt.Fprintf(stderr, "hepd ctl: %v\n", err)
		return 1
	}
}

type usageError string

func (e usageError) Error() string { return string(e) }

type ctlClient struct {
	base, token string
	http        *http.Client
}

func (c ctlClient) run(args []string, out io.Writer) error {
	cmd := strings.Join(args[:min(len(args), 2)], " ")
	switch {
	case len(args) == 1 && args[0] == "stats":
		return c.raw(http.MethodGet, "/api/v1/stats", nil, out)
	case len(args) == 1 && args[0] == "db":
		return c.db(out)
	case cmd == "tcp info" && len(args) == 2:
		return c.raw(http.MethodGet, "/api/v1/tcp/info", nil, out)
	case cmd == "tcp list" && len(args) == 2:
		return c.tcpList(out)
	case cmd == "cfg get" && len(args) <= 3:
		var m map[string]cfgValue
		if err := c.do(http.MethodGet, "/api/v1/cfg", nil, &m); err != nil {
			return err
		}
		if len(args) == 3 {
			name := canonicalParam(args[2])
			v, ok := m[name]
			if !ok {
				return fmt.Errorf("unknown parameter %q", args[2])
			}
			fmt.Fprintln(out, v.Value)
			return nil
		}
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		sort.Strings(names)
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVALUE\tRUNTIME")
		for _, n := range names {
			rt := "restart"
			if m[n].Runtime {
				rt = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", n, m[n].Value, rt)
		}
		return tw.Flush()
	case cmd == "cfg set" && len(args) == 4:
		var res struct{ Name, Old, New string }
		body, _ := json.Marshal(map[string]string{"value": args[3]})
		if err := c.do(http.MethodPut, "/api/v1/cfg/"+url.PathEscape(canonicalParam(args[2])), body, &res); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: %s -> %s\n", res.Name, res.Old, res.New)
		return nil
	}
	return usageError(fmt.Sprintf("unknown command %q", strings.Join(args, " ")))
}

// db prints the store's state and the spool's replay progress.
func (c ctlClient) db(out io.Writer) error {
	var st struct {
		Store struct {
			DBDown                                              bool
			RowsAdded, RowsCommitted, RowsRejected, RowsLost    uint64
			RowsPending                                         int
			RowsSpooled, RowsSpilled, RowsReplayed              uint64
			RowsReplaySkipped, RejectsStored, RejectsFiled      uint64
			SpoolRows, SpoolBytes                               int64
			SpoolSegments                                       int
			SpoolFullRefusals, CommitsUnknown, CommitsUnknownIn uint64
		}
	}
	if err := c.do(http.MethodGet, "/api/v1/stats", nil, &st); err != nil {
		return err
	}
	s := st.Store
	state := "writing"
	switch {
	case s.DBDown:
		state = "unreachable: batches go to the spool"
	case s.SpoolRows > 0:
		state = "replaying the spool"
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, l := range [][2]string{
		{"database", state},
		{"rows added", strconv.FormatUint(s.RowsAdded, 10)},
		{"rows committed", strconv.FormatUint(s.RowsCommitted, 10)},
		{"rows in memory", strconv.Itoa(s.RowsPending)},
		{"rows rejected", fmt.Sprintf("%d (%d in hepd_rejects, %d in the rejects file)", s.RowsRejected, s.RejectsStored, s.RejectsFiled)},
		{"rows lost", strconv.FormatUint(s.RowsLost, 10)},
		{"spool waiting", fmt.Sprintf("%d rows, %d bytes, %d segments", s.SpoolRows, s.SpoolBytes, s.SpoolSegments)},
		{"spooled", fmt.Sprintf("%d rows (%d because the database could not keep up)", s.RowsSpooled, s.RowsSpilled)},
		{"replayed", fmt.Sprintf("%d rows (%d found committed already)", s.RowsReplayed, s.RowsReplaySkipped)},
		{"spool full", fmt.Sprintf("%d times", s.SpoolFullRefusals)},
		{"lost COMMIT replies", fmt.Sprintf("%d (%d of them had committed)", s.CommitsUnknown, s.CommitsUnknownIn)},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", l[0], l[1])
	}
	return tw.Flush()
}

// canonicalParam accepts Kamailio's cfg names (tcp.rd_buf_size) for the
// config-file names (tcp_rd_buf_size).
func canonicalParam(name string) string {
	if rest, ok := strings.CutPrefix(name, "tcp."); ok {
		return "tcp_" + rest
	}
	return name
}

// cfgValue is one entry of GET /api/v1/cfg.
type cfgValue struct {
	Value   string `json:"value"`
	Runtime bool   `json:"runtime"`
}

func (c ctlClient) tcpList(out io.Writer) error {
	var conns []map[string]any
	if err := c.do(http.MethodGet, "/api/v1/tcp/list", nil, &conns); err != nil {
		return err
	}
	if len(conns) == 0 {
		fmt.Fprintln(out, "no connections")
		return nil
	}
	cols := connColumns
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(cols, "\t")))
	for _, conn := range conns {
		vals := make([]string, len(cols))
		for i, k := range cols {
			switch v := conn[k].(type) {
			case []any:
				vals[i] = "-"
				if len(v) > 0 {
					vals[i] = strings.Trim(fmt.Sprint(v), "[]")
				}
			case float64:
				vals[i] = strconv.FormatFloat(v, 'f', -1, 64)
			default:
				vals[i] = fmt.Sprint(v)
			}
		}
		fmt.Fprintln(tw, strings.Join(vals, "\t"))
	}
	return tw.Flush()
}

func (c ctlClient) raw(method, path string, body []byte, out io.Writer) error {
	var v json.RawMessage
	if err := c.do(method, path, body, &v); err != nil {
		return err
	}
	var buf bytes.Buffer
	json.Indent(&buf, v, "", "  ")
	buf.WriteByte('\n')
	_, err := out.Write(buf.Bytes())
	return err
}

func (c ctlClient) do(method, path string, body []byte, v any) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("is hepd running with its admin API on %s? %w", strings.TrimPrefix(c.base, "http://"), err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	return json.Unmarshal(data, v)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
