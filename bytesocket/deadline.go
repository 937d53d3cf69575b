package bytesocket

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// deadline is the read or the write deadline of a NetConn, held as a
// context that is cancelled with cause os.ErrDeadlineExceeded when the
// deadline passes. As with net.Pipe, a new deadline also applies to
// operations already blocked; once a deadline has passed, setting another
// one starts a fresh context.
type deadline struct {
	parent context.Context // the NetConn's lifetime

	mu     sync.Mutex // guards the fields below
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer // pending expiry, or nil
}

func (d *deadline) init(parent context.Context) {
	d.parent = parent
	d.ctx, d.cancel = context.WithCancelCause(parent)
}

// context returns the context for an operation starting now.
func (d *deadline) context() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ctx
}

// set moves the deadline to t; the zero t means no deadline.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
	if expired(d.ctx) {
		d.ctx, d.cancel = context.WithCancelCause(d.parent)
	}
	if t.IsZero() {
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		d.cancel(os.ErrDeadlineExceeded)
		return
	}
	cancel := d.cancel
	var timer *time.Timer
	timer = time.AfterFunc(wait, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.timer == timer { // not replaced by a later set
			d.timer = nil
			cancel(os.ErrDeadlineExceeded)
		}
	})
	d.timer = timer
}

// stop cancels a pending expiry.
func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked()
}

func (d *deadline) stopLocked() {
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

// expired reports whether ctx ended because its deadline passed.
func expired(ctx context.Context) bool {
	return ctx.Err() != nil && errors.Is(context.Cause(ctx), os.ErrDeadlineExceeded)
}
