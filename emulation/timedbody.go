package emulation

import (
	"errors"
	"io"
	"net/http"
	"os"
	"time"
)

// timedBody reads a request body within a time budget: only the time
// spent waiting for the client's bytes counts, not the time the reader
// spends between reads (delivery waiting for the application). A stalled
// or trickling upload fails when the budget is spent. It needs a
// connection-level read deadline (http.ResponseController); where there is
// none, it reads without one.
type timedBody struct {
	r      io.Reader
	rc     *http.ResponseController
	budget time.Duration
}

func (t *timedBody) Read(p []byte) (int, error) {
	if t.budget <= 0 {
		return 0, ErrUploadTimeout
	}
	start := time.Now()
	_ = t.rc.SetReadDeadline(start.Add(t.budget))
	n, err := t.r.Read(p)
	t.budget -= time.Since(start)
	if err != nil && (t.budget <= 0 || errors.Is(err, os.ErrDeadlineExceeded)) {
		t.budget = 0
		err = ErrUploadTimeout
	}
	return n, err
}

// done clears the read deadline for the connection's next request, unless
// the upload timed out: then the deadline stays passed, so that net/http
// does not wait for the rest of the body before closing the connection.
func (t *timedBody) done() {
	if t.budget > 0 {
		_ = t.rc.SetReadDeadline(time.Time{})
	}
}
