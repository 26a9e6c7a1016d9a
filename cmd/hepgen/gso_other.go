//go:build !linux

package main

// Segmentation offload is Linux's; elsewhere every datagram is its own write.
const (
	gsoSupported      = false
	gsoMaxSegments    = 1
	segmentControlLen = 0
)

func appendSegmentControl(b []byte, size int) []byte { return b }

func gsoRefused(error) (refused, bySize bool) { return false, false }
