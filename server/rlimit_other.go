//go:build !unix

package server

// fileLimit returns 0: there is no open-file limit to derive one from.
func fileLimit() uint64 { return 0 }
