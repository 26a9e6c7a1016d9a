// Command hepgen is a load generator for HEP capture servers: it sends
// synthetic but realistic SIP traffic (calls, registrations, OPTIONS
// pings) as HEP3 over TCP or UDP and reports what it sent, by method or
// status and by the Homer table each message lands in.
//
// Usage:
//
//	hepgen [flags] host:port
//
// For example:
//
//	hepgen -transport tcp -calls 10000 -conns 20 -rate 5000 127.0.0.1:9060
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its environment passed in; it returns the exit code:
// 0 if everything was sent, 1 if any message was not, 2 for bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hepgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: hepgen [flags] host:port\n\n"+
			"Sends synthetic SIP as HEP3: a call is 7 messages (INVITE+SDP/100/180/200+SDP/ACK/BYE/200),\n"+
			"a registration 4 (REGISTER/401/REGISTER with Authorization/200), an options ping 2 (OPTIONS/200).\n"+
			"The messages of one call, registration or ping go in order on one connection.\n\nflags:")
		fs.PrintDefaults()
	}
	var cfg config
	var nodeID uint
	var asJSON bool
	fs.StringVar(&cfg.transport, "transport", "tcp", "`tcp` or udp")
	fs.IntVar(&cfg.calls, "calls", 100, "number of calls")
	fs.IntVar(&cfg.registrations, "registers", 0, "number of registrations")
	fs.IntVar(&cfg.options, "options", 0, "number of OPTIONS pings")
	fs.IntVar(&cfg.conns, "conns", 1, "TCP connections (or UDP sockets) to send on in parallel")
	fs.IntVar(&cfg.rate, "rate", 0, "messages per second in total, 0 = as fast as possible")
	fs.BoolVar(&cfg.gso, "gso", true, "UDP: write each run of equal-size datagrams once and let the kernel cut it (Linux UDP_SEGMENT);\n"+
		"the receiver still gets one datagram per message")
	fs.UintVar(&nodeID, "node-id", 2001, "HEP capture agent id (chunk 0x000c)")
	fs.StringVar(&cfg.nodeName, "node-name", "hepgen", "HEP capture agent name (chunk 0x0013), empty = none")
	fs.StringVar(&cfg.password, "password", "", "HEP auth key (chunk 0x000e), empty = none")
	fs.StringVar(&cfg.prefix, "prefix", "", "Call-ID prefix (default random per run, so runs are distinguishable)")
	fs.BoolVar(&asJSON, "json", false, "print the summary as one JSON object")
	fs.DurationVar(&cfg.timeout, "timeout", 0, "give up after this long; unsent messages count as errors (0 = no limit)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cfg.target = fs.Arg(0)
	if nodeID > 1<<32-1 {
		fmt.Fprintln(stderr, "hepgen: -node-id does not fit in 32 bits")
		return 2
	}
	cfg.nodeID = uint32(nodeID)
	if cfg.prefix == "" {
		cfg.prefix = hex.EncodeToString(randomBytes(4))
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintln(stderr, "hepgen:", err)
		return 2
	}

	start := time.Now()
	s := send(ctx, &cfg)
	sum := summarize(&s, time.Since(start))
	var err error
	if asJSON {
		err = writeJSON(stdout, sum)
	} else {
		err = writeTable(stdout, &s, sum)
	}
	if err != nil {
		fmt.Fprintln(stderr, "hepgen:", err)
		return 1
	}
	if s.errors > 0 {
		return 1
	}
	return 0
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return b
}
