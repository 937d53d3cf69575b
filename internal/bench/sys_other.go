//go:build !unix

package bench

import "time"

// RaiseFileLimit does nothing where there are no resource limits; it
// returns the limit the planner assumes.
func RaiseFileLimit() (uint64, error) { return fileLimit(), nil }

func fileLimit() uint64 { return 1024 }

func cpuTime() time.Duration { return 0 }
