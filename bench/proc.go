package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// procCPU is a process's CPU use from /proc/<pid>/stat, in clock ticks.
type procCPU struct {
	ppid                         int
	utime, stime, cutime, cstime uint64
}

// parseStat reads fields 4 (ppid) and 14-17 (utime, stime, cutime, cstime)
// of a /proc/<pid>/stat line. The command name (field 2) may hold spaces
// and parentheses, so fields are counted from the last ')'.
func parseStat(line []byte) (procCPU, error) {
	i := bytes.LastIndexByte(line, ')')
	if i < 0 {
		return procCPU{}, fmt.Errorf("stat line without ')': %.60q", line)
	}
	f := strings.Fields(string(line[i+1:]))
	// f[0] is field 3 (state).
	if len(f) < 15 {
		return procCPU{}, fmt.Errorf("stat line with %d fields after the name", len(f))
	}
	var c procCPU
	var err error
	num := func(s string) uint64 {
		n, e := strconv.ParseUint(s, 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("stat field %q: %w", s, e)
		}
		return n
	}
	c.ppid = int(num(f[1]))
	c.utime, c.stime, c.cutime, c.cstime = num(f[11]), num(f[12]), num(f[13]), num(f[14])
	return c, err
}

func readStat(pid int) (procCPU, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procCPU{}, err
	}
	return parseStat(b)
}

// clockTicks is USER_HZ, which /proc/<pid>/stat counts in.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100 // every Linux architecture hepd builds for
}

// processCPU returns the CPU ticks a process used itself (utime+stime).
func processCPU(pid int) (uint64, error) {
	c, err := readStat(pid)
	if err != nil {
		return 0, fmt.Errorf("cpu of pid %d: %w", pid, err)
	}
	return c.utime + c.stime, nil
}

// clusterCPU returns the CPU ticks of a PostgreSQL cluster: the postmaster's
// own time, the time of its exited children (cutime+cstime: backends of
// closed connections, added when the postmaster reaps them) and the own time
// of every live or not yet reaped child. A child reaped while /proc is being
// read would be in neither, so the scan is repeated until the postmaster's
// reaped total is the same before and after it: a delta of two calls then
// counts a backend that exits in between exactly once.
func clusterCPU(postmaster int) (uint64, error) {
	for {
		pm, err := readStat(postmaster)
		if err != nil {
			return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
		}
		children, err := childrenCPU(postmaster)
		if err != nil {
			return 0, err
		}
		again, err := readStat(postmaster)
		if err != nil {
			return 0, fmt.Errorf("postmaster %d: %w", postmaster, err)
		}
		if again.cutime+again.cstime == pm.cutime+pm.cstime {
			return pm.utime + pm.stime + pm.cutime + pm.cstime + children, nil
		}
	}
}

// childrenCPU sums the own CPU ticks of parent's children.
func childrenCPU(parent int) (uint64, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == parent {
			continue
		}
		c, err := readStat(pid)
		if err != nil || c.ppid != parent {
			continue // gone meanwhile, or not ours
		}
		total += c.utime + c.stime
	}
	return total, nil
}

// postmasterPID reads line 1 of postmaster.pid in a data directory.
func postmasterPID(dataDir string) (int, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// peakRSS returns VmHWM of a process in bytes.
func peakRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return parseVmHWM(f)
}

func parseVmHWM(r interface{ Read([]byte) (int, error) }) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			f := strings.Fields(v) // "123456 kB"
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("VmHWM line %q", sc.Text())
			}
			n, err := strconv.ParseUint(f[0], 10, 64)
			return n << 10, err
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no VmHWM line")
}

// udpDrops sums the drops column of the /proc/net/udp{,6} sockets bound to
// port: the datagrams the kernel discarded because the socket's receive
// buffer was full.
func udpDrops(port int) (uint64, error) {
	var total uint64
	found := false
	for _, file := range []string{"/proc/net/udp", "/proc/net/udp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		n, ok, err := parseUDPDrops(b, port)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", file, err)
		}
		total += n
		found = found || ok
	}
	if !found {
		return 0, fmt.Errorf("no UDP socket on port %d in /proc/net/udp", port)
	}
	return total, nil
}

func parseUDPDrops(table []byte, port int) (drops uint64, found bool, err error) {
	want := fmt.Sprintf(":%04X", port)
	for i, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 13 || !strings.HasSuffix(f[1], want) {
			continue
		}
		n, err := strconv.ParseUint(f[len(f)-1], 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("drops column %q: %w", f[len(f)-1], err)
		}
		drops += n
		found = true
	}
	return drops, found, nil
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// machine describes the host for the report.
type machine struct {
	CPUs     int     `json:"cpus"`
	CPUModel string  `json:"cpu_model"`
	MemGiB   float64 `json:"mem_gib"`
	Kernel   string  `json:"kernel"`
	Postgres string  `json:"postgres"`
	Go       string  `json:"go"`
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func memGiB() float64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / (1 << 20)
			}
		}
	}
	return 0
}
