package sockettest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ferrygw/ferry/bytesocket"
)

// MakePair returns a connected pair of Sockets: server is the end a
// handler would see, client the end a browser would hold. Both are open
// and nothing has been sent on either. stop releases whatever the pair
// holds; Run calls it at the end of each subtest, whether or not the
// Sockets were closed, and it must not block for long.
type MakePair func(t *testing.T) (server, client bytesocket.Socket, stop func())

// hangGuard bounds each subtest so that a broken implementation fails
// instead of hanging. No test depends on it for its result.
const hangGuard = 60 * time.Second

// test is one subtest of Run: it gets a context that ends at hangGuard.
type test func(t *testing.T, ctx context.Context, server, client bytesocket.Socket)

// Run runs the conformance suite against the pairs mk makes, each subtest
// on a fresh pair: message order, payload fidelity, empty and 16 MiB
// messages, the close handshake from either side, concurrent writers,
// reads after a close, context cancellation of Read, and the rejection of
// invalid UTF-8. The subtests do not depend on timing; they run one
// after another.
func Run(t *testing.T, mk MakePair) {
	tests := []struct {
		name string
		fn   test
	}{
		{"Ordering", testOrdering},
		{"BinaryAllBytes", testBinaryAllBytes},
		{"TextEdgeCases", testTextEdgeCases},
		{"Empty", testEmpty},
		{"Large", testLarge},
		{"ConcurrentWriters", testConcurrentWriters},
		{"CloseFromServer", func(t *testing.T, ctx context.Context, s, c bytesocket.Socket) { testClose(t, ctx, s, c) }},
		{"CloseFromClient", func(t *testing.T, ctx context.Context, s, c bytesocket.Socket) { testClose(t, ctx, c, s) }},
		{"CloseReasonLimit", testCloseReasonLimit},
		{"CloseUnblocksRead", testCloseUnblocksRead},
		{"ReadCancel", testReadCancel},
		{"ReadCancelKeepsMessages", testReadCancelKeepsMessages},
		{"InvalidUTF8", testInvalidUTF8},
		{"Accessors", testAccessors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client, stop := mk(t)
			defer stop()
			ctx, cancel := context.WithTimeout(t.Context(), hangGuard)
			defer cancel()
			tt.fn(t, ctx, server, client)
		})
	}
}

// direction is one way through a pair.
type direction struct {
	name     string
	from, to bytesocket.Socket
}

// directions returns server-to-client and client-to-server.
func directions(server, client bytesocket.Socket) []direction {
	return []direction{
		{"server->client", server, client},
		{"client->server", client, server},
	}
}

// together runs fns concurrently and returns the first error. The first
// failure cancels the context the others get, so none is left blocked.
func together(ctx context.Context, fns ...func(ctx context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, fn := range fns {
		wg.Go(func() {
			if err := fn(ctx); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}

// alive fails unless err is a real error and not the hang guard ending.
func alive(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return errors.New("timed out (hang guard)")
	}
	if err == nil {
		return errors.New("got no error")
	}
	return nil
}
