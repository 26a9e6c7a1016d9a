package main

import (
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// No Docker engine runs where the tests run, so this test reads
// docker-compose.yml and checks it against hepd's real configuration: every
// HEPD_ variable is a parameter hepd knows with a value it accepts, the
// published ports are the ones hepd listens on, and PostgreSQL is healthy and
// persistent before hepd starts.
func TestDockerCompose(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Image string `yaml:"image"`
			Build struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			Environment     map[string]string                     `yaml:"environment"`
			Ports           []string                              `yaml:"ports"`
			Volumes         []string                              `yaml:"volumes"`
			DependsOn       map[string]struct{ Condition string } `yaml:"depends_on"`
			Healthcheck     struct{ Test []string }               `yaml:"healthcheck"`
			StopGracePeriod string                                `yaml:"stop_grace_period"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	hepd, ok := f.Services["hepd"]
	if !ok {
		t.Fatal("no hepd service")
	}
	pg, ok := f.Services["postgres"]
	if !ok {
		t.Fatal("no postgres service")
	}

	if _, err := os.Stat("../../" + hepd.Build.Dockerfile); err != nil || hepd.Build.Context != "." {
		t.Errorf("hepd build: context %q dockerfile %q: %v", hepd.Build.Context, hepd.Build.Dockerfile, err)
	}
	known := map[string]bool{}
	for _, p := range params() {
		known[p.env] = true
	}
	for k := range hepd.Environment {
		if !known[k] {
			t.Errorf("hepd environment %s is not a hepd parameter", k)
		}
	}
	cfg, err := loadConfig(nil, hepd.Environment, io.Discard)
	if err != nil {
		t.Fatalf("hepd refuses the compose environment: %v", err)
	}
	if cfg.DBDSN == "" || !strings.Contains(string(cfg.DBDSN), "@postgres:5432/") {
		t.Errorf("db_dsn %q does not point at the postgres service", cfg.DBDSN)
	}
	admin := netip.MustParseAddrPort(string(cfg.AdminListen))
	var want []string
	for _, a := range listenAddrs(cfg) {
		p := a.Port()
		want = append(want, portMapping(p, "udp"), portMapping(p, "tcp"))
	}
	for _, want := range want {
		if !contains(hepd.Ports, want) {
			t.Errorf("hepd ports %v lack %s", hepd.Ports, want)
		}
	}
	adminPublished := false
	for _, p := range hepd.Ports {
		if strings.HasSuffix(p, ":"+itoa(int(admin.Port()))+"/tcp") || strings.HasSuffix(p, ":"+itoa(int(admin.Port()))) {
			adminPublished = true
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("admin port published beyond loopback: %s", p)
			}
		}
	}
	if !adminPublished {
		t.Errorf("admin port %d not published", admin.Port())
	}
	if hepd.DependsOn["postgres"].Condition != "service_healthy" {
		t.Error("hepd does not wait for a healthy postgres")
	}
	if len(pg.Healthcheck.Test) == 0 {
		t.Error("postgres has no health check")
	}
	persistent := false
	for _, v := range pg.Volumes {
		name, _, _ := strings.Cut(v, ":")
		if _, ok := f.Volumes[name]; ok && strings.HasSuffix(v, ":/var/lib/postgresql/data") {
			persistent = true
		}
	}
	if !persistent {
		t.Errorf("postgres data is not on a named volume: %v", pg.Volumes)
	}
	grace, err := time.ParseDuration(hepd.StopGracePeriod)
	if err != nil || grace <= time.Duration(cfg.ShutdownTimeout)*time.Second {
		t.Errorf("stop_grace_period %q must exceed shutdown_timeout %ds so SIGTERM can flush", hepd.StopGracePeriod, cfg.ShutdownTimeout)
	}
}

// TestDockerComposeCluster: the cluster profile runs two hepd nodes that
// require PROXY headers behind HAProxy, whose configuration sends them to
// the nodes' capture port and checks their admin port.
func TestDockerComposeCluster(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]struct {
			Profiles    []string          `yaml:"profiles"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	haproxyCfg, err := os.ReadFile("../../deploy/haproxy.cfg")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hepd-a", "hepd-b"} {
		node, ok := f.Services[name]
		if !ok || !contains(node.Profiles, "cluster") {
			t.Fatalf("service %s missing or not in the cluster profile", name)
		}
		cfg, err := loadConfig(nil, node.Environment, io.Discard)
		if err != nil {
			t.Fatalf("%s: hepd refuses its environment: %v", name, err)
		}
		if !cfg.TCPAcceptHAProxy {
			t.Errorf("%s does not require the PROXY header", name)
		}
		hep := netip.MustParseAddrPort(cfg.HEPListen[0])
		admin := netip.MustParseAddrPort(string(cfg.AdminListen))
		if !strings.Contains(string(haproxyCfg), "server "+name+" "+name+":"+itoa(int(hep.Port()))) {
			t.Errorf("deploy/haproxy.cfg does not send to %s:%d", name, hep.Port())
		}
		if !strings.Contains(string(haproxyCfg), "check port "+itoa(int(admin.Port()))) {
			t.Errorf("deploy/haproxy.cfg does not check the admin port %d", admin.Port())
		}
	}
	if !strings.Contains(string(haproxyCfg), "send-proxy-v2") {
		t.Error("deploy/haproxy.cfg does not send PROXY v2 headers")
	}
	hp, ok := f.Services["haproxy"]
	if !ok || !contains(hp.Profiles, "cluster") || len(hp.Ports) == 0 {
		t.Fatal("no haproxy service with published ports in the cluster profile")
	}
	if len(hp.Volumes) == 0 || !strings.HasPrefix(hp.Volumes[0], "./deploy/haproxy.cfg:") {
		t.Errorf("haproxy does not mount deploy/haproxy.cfg: %v", hp.Volumes)
	}
}

func portMapping(port uint16, proto string) string {
	p := itoa(int(port))
	return p + ":" + p + "/" + proto
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
