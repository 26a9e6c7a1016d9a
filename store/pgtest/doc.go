// Package pgtest gives tests an isolated PostgreSQL database.
//
// DSN returns a fresh, uniquely named database per call: in the server named
// by HEPD_TEST_DSN when that is set, otherwise in one throwaway cluster per
// test binary (package pgcluster), started on first use and stopped by Main.
// Packages that call DSN must run their tests through Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// The package knows nothing of hepd's tables.
package pgtest
