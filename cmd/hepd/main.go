// Command hepd is a HEP capture server: it receives HEP (and, later, raw SIP)
// over TCP and UDP and writes every message into PostgreSQL in the Homer 7
// table layout.
//
// Usage:
//
//	hepd [-config hepd.cfg] [-name value ...]
//
// Every parameter can be set in the config file (`name = value`), as an
// environment variable (HEPD_NAME) or as a flag (-name value); see the README
// for the list.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], environMap(os.Environ()), os.Stderr))
}
