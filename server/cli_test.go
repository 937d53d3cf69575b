package server_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/ferrygw/ferry/server"
)

// TestCommandHelpVersion checks the exit status and output of the ferry
// command's informational flags: --help and --version print to stdout and
// exit 0, before any configuration is read; an unknown flag exits 2 with
// the error and the usage on stderr.
func TestCommandHelpVersion(t *testing.T) {
	usage := regexp.MustCompile(`^Usage: ferry \[flags\]\n(.|\n)*\n  -config string\n(.|\n)*\n  -version\n`)
	version := regexp.MustCompile(`^ferry (v\S+|devel( [0-9a-f]{1,12})?( \(modified\))?)\n$`)
	tests := []struct {
		args           []string
		code           int
		stdout, stderr *regexp.Regexp // nil: must be empty
	}{
		{[]string{"--help"}, 0, usage, nil},
		{[]string{"-h"}, 0, usage, nil},
		{[]string{"--version"}, 0, version, nil},
		{[]string{"--version", "--config", "/nonexistent.yaml"}, 0, version, nil},
		{[]string{"--bogus"}, 2, nil, regexp.MustCompile(`^Usage: ferry(.|\n)*\nferry: flag provided but not defined: -bogus\n$`)},
		{[]string{"--version=maybe"}, 2, nil, regexp.MustCompile(`ferry: invalid boolean value "maybe" for -version`)},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := server.Command(t.Context(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit status %d, want %d", code, tc.code)
			}
			check := func(name string, got *bytes.Buffer, want *regexp.Regexp) {
				if want == nil && got.Len() > 0 || want != nil && !want.Match(got.Bytes()) {
					t.Errorf("%s:\n%s\nwant it to match %v", name, got, want)
				}
			}
			check("stdout", &stdout, tc.stdout)
			check("stderr", &stderr, tc.stderr)
		})
	}
}
