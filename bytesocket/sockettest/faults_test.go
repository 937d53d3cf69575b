package sockettest_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/ferrygw/ferry/bytesocket"
	"github.com/ferrygw/ferry/bytesocket/sockettest"
)

// faultEnv names the fault TestFaultyPipe injects.
const faultEnv = "SOCKETTEST_FAULT"

// A fault is a way to break a Socket, and the subtest of Run that must
// notice it.
type fault struct {
	name    string
	catcher string
	wrap    func(bytesocket.Socket) bytesocket.Socket
}

var faults = []fault{
	{"reorders", "Ordering", func(s bytesocket.Socket) bytesocket.Socket { return &reorder{Socket: s} }},
	{"turns CR into LF", "TextEdgeCases", func(s bytesocket.Socket) bytesocket.Socket { return crToLF{s} }},
	{"sends empty binary as text", "Empty", func(s bytesocket.Socket) bytesocket.Socket { return emptyAsText{s} }},
	{"truncates large messages", "Large", func(s bytesocket.Socket) bytesocket.Socket { return truncate{s} }},
	{"splits messages", "ConcurrentWriters", func(s bytesocket.Socket) bytesocket.Socket { return split{s} }},
	{"drops close reasons", "CloseFromServer", func(s bytesocket.Socket) bytesocket.Socket { return dropReason{s} }},
	{"truncates long reasons", "CloseReasonLimit", func(s bytesocket.Socket) bytesocket.Socket { return cutReason{s} }},
	{"reports cancellation as loss", "ReadCancel", func(s bytesocket.Socket) bytesocket.Socket { return cancelAsLoss{s} }},
	{"sends invalid text as binary", "InvalidUTF8", func(s bytesocket.Socket) bytesocket.Socket { return lenientUTF8{s} }},
	{"has no transport name", "Accessors", func(s bytesocket.Socket) bytesocket.Socket { return noTransport{s} }},
}

// TestRunCatchesFaults checks that the suite is not vacuous: for each
// fault injected into a Pipe, the subtest meant to catch it fails. Each
// case runs this test binary again, since a subtest's failure would fail
// this run too.
func TestRunCatchesFaults(t *testing.T) {
	if os.Getenv(faultEnv) != "" {
		t.Skip("child run")
	}
	for _, f := range faults {
		t.Run(f.catcher, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), os.Args[0],
				"-test.run=^TestFaultyPipe$/^"+f.catcher+"$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), faultEnv+"="+f.name)
			out, err := cmd.CombinedOutput()
			if err == nil || !bytes.Contains(out, []byte("--- FAIL: TestFaultyPipe/"+f.catcher+" ")) {
				t.Fatalf("%s passed a Pipe that %s (exit: %v); output:\n%s", f.catcher, f.name, err, out)
			}
		})
	}
}

// TestFaultyPipe runs the suite against a Pipe with the fault named in
// $SOCKETTEST_FAULT; only TestRunCatchesFaults runs it.
func TestFaultyPipe(t *testing.T) {
	name := os.Getenv(faultEnv)
	if name == "" {
		t.Skip("run by TestRunCatchesFaults")
	}
	var wrap func(bytesocket.Socket) bytesocket.Socket
	for _, f := range faults {
		if f.name == name {
			wrap = f.wrap
		}
	}
	if wrap == nil {
		t.Fatalf("unknown fault %q", name)
	}
	sockettest.Run(t, func(*testing.T) (server, client bytesocket.Socket, stop func()) {
		a, b := sockettest.Pipe()
		return wrap(a), wrap(b), func() {
			_ = a.Close(bytesocket.StatusNormalClosure, "")
			_ = b.Close(bytesocket.StatusNormalClosure, "")
		}
	})
}

// reorder sends each pair of messages in reverse.
type reorder struct {
	bytesocket.Socket
	mu   sync.Mutex
	held []byte
	typ  bytesocket.MessageType
}

func (r *reorder) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.held == nil {
		r.held, r.typ = append([]byte{}, p...), typ
		return nil
	}
	if err := r.Socket.Write(ctx, typ, p); err != nil {
		return err
	}
	held := r.held
	r.held = nil
	return r.Socket.Write(ctx, r.typ, held)
}

type crToLF struct{ bytesocket.Socket }

func (s crToLF) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if typ == bytesocket.Text {
		p = bytes.ReplaceAll(p, []byte("\r"), []byte("\n"))
	}
	return s.Socket.Write(ctx, typ, p)
}

type emptyAsText struct{ bytesocket.Socket }

func (s emptyAsText) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if len(p) == 0 {
		typ = bytesocket.Text
	}
	return s.Socket.Write(ctx, typ, p)
}

type truncate struct{ bytesocket.Socket }

func (s truncate) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	return s.Socket.Write(ctx, typ, p[:min(len(p), 1<<20)])
}

type split struct{ bytesocket.Socket }

func (s split) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if err := s.Socket.Write(ctx, typ, p[:len(p)/2]); err != nil {
		return err
	}
	return s.Socket.Write(ctx, typ, p[len(p)/2:])
}

type dropReason struct{ bytesocket.Socket }

func (s dropReason) Close(code bytesocket.StatusCode, _ string) error {
	return s.Socket.Close(code, "")
}

type cutReason struct{ bytesocket.Socket }

func (s cutReason) Close(code bytesocket.StatusCode, reason string) error {
	return s.Socket.Close(code, reason[:min(len(reason), bytesocket.MaxReasonBytes)])
}

type cancelAsLoss struct{ bytesocket.Socket }

func (s cancelAsLoss) Read(ctx context.Context) (bytesocket.MessageType, []byte, error) {
	typ, p, err := s.Socket.Read(ctx)
	if err != nil && ctx.Err() != nil {
		err = bytesocket.CloseError{Code: bytesocket.StatusAbnormalClosure}
	}
	return typ, p, err
}

type lenientUTF8 struct{ bytesocket.Socket }

func (s lenientUTF8) Write(ctx context.Context, typ bytesocket.MessageType, p []byte) error {
	if typ == bytesocket.Text && !utf8.Valid(p) {
		typ = bytesocket.Binary
	}
	return s.Socket.Write(ctx, typ, p)
}

type noTransport struct{ bytesocket.Socket }

func (noTransport) Transport() string { return "" }
