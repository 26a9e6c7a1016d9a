// Package pgcluster runs a local PostgreSQL cluster from the installed server
// binaries (initdb, pg_ctl): a throwaway one for tests, or the persistent one
// hepd starts under its data folder when no DSN is configured.
//
// The cluster is for development, tests and single-box installs: it listens
// on 127.0.0.1 only, keeps its unix socket inside the data directory and
// trusts every local and loopback connection (no password). Do not point it at
// a network interface.
//
// When the process runs as root, PostgreSQL refuses to run as root, so initdb
// and pg_ctl are run as the "postgres" OS user: the data directory is chowned
// to that user, and every directory above it must be traversable by it (Start
// says which one is not). Test helpers create their clusters under a fresh
// 0755 directory in os.TempDir() for that reason, never under t.TempDir(),
// whose parents are 0700 and owned by root.
//
// The package knows nothing of hepd's tables; it only creates the database.
package pgcluster
