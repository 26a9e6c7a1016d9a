package pgtest

import (
	"context"
	"testing"

	"github.com/hepd/hepd/store/pgcluster"
)

// Restartable is a PostgreSQL cluster of one test's own that the test can
// stop and start again on the same port and data: a database outage. It is
// stopped at the end of the test.
type Restartable struct {
	t    testing.TB
	dir  string
	port int
	dsn  string
	cl   *pgcluster.Cluster // nil while stopped
}

// NewRestartable starts a throwaway cluster in a fresh TempDir.
func NewRestartable(t testing.TB) *Restartable {
	t.Helper()
	r := &Restartable{t: t, dir: TempDir(t)}
	r.Start()
	r.port, r.dsn = r.cl.Port(), r.cl.DSN()
	t.Cleanup(func() {
		if r.cl != nil {
			r.cl.Stop(context.Background())
		}
	})
	return r
}

// DSN is the cluster's URL; it stays valid across Stop and Start.
func (r *Restartable) DSN() string { return r.dsn }

// Stop shuts the server down (pg_ctl stop -m fast).
func (r *Restartable) Stop() {
	r.t.Helper()
	if err := r.cl.Stop(context.Background()); err != nil {
		r.t.Fatal(err)
	}
	r.cl = nil
}

// Start starts the server again on the same port and data (or the first
// time, on a free port).
func (r *Restartable) Start() {
	r.t.Helper()
	cl, err := pgcluster.Start(context.Background(), pgcluster.Options{Dir: r.dir, Port: r.port, Throwaway: true})
	if err != nil {
		r.t.Fatal(err)
	}
	r.cl = cl
}
