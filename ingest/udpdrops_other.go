//go:build !linux

package ingest

import "errors"

func socketDrops(int) (uint64, error) {
	return 0, errors.New("the kernel's per-socket UDP drop counter is read on Linux only")
}
