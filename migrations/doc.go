// Package migrations holds hepd's versioned SQL, embedded in the binary, and
// the runner that applies it at start-up.
//
// Files are named NNNN_description.sql and applied in version order, each in
// its own transaction that also records it in hepd_schema_migrations. Every
// transaction first takes a transaction-scoped advisory lock, so several hepd
// nodes starting against one database at once apply each file exactly once.
//
// The SQL creates the Homer 7 parent tables (whose names and columns homer-app
// depends on and must never change) and hepd's own convenience views. The
// per-slot partitions and their indexes are not migrations: package store
// creates them as time passes.
package migrations
