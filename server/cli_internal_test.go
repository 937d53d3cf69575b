package server

import (
	"runtime/debug"
	"testing"
)

// TestVersion checks the version string --version prints for each kind of
// build information.
func TestVersion(t *testing.T) {
	rev := "08ec3f56c71c672cbb69216b077a94ab88a11506"
	build := func(v string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/ferrygw/ferry", Version: v}, Settings: settings}
	}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build information", nil, "devel"},
		{"released module", build("v1.2.3"), "v1.2.3"},
		{"pseudo-version", build("v0.0.0-20261204182313-08ec3f56c71c+dirty"), "v0.0.0-20261204182313-08ec3f56c71c+dirty"},
		{"checkout without VCS stamp", build("(devel)"), "devel"},
		{"checkout", build("(devel)", debug.BuildSetting{Key: "vcs.revision", Value: rev},
			debug.BuildSetting{Key: "vcs.modified", Value: "false"}), "devel 08ec3f56c71c"},
		{"modified checkout", build("", debug.BuildSetting{Key: "vcs.modified", Value: "true"},
			debug.BuildSetting{Key: "vcs.revision", Value: rev}), "devel 08ec3f56c71c (modified)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := version(tc.bi); got != tc.want {
				t.Fatalf("version = %q, want %q", got, tc.want)
			}
		})
	}
}
