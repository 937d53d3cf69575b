package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ferrygw/ferry/emulation"
	"github.com/ferrygw/ferry/wire"
)

const ackDelay = 50 * time.Millisecond

// carryHTTP runs an SSE or long-poll downstream plus the POST upstream
// until the downstream drops.
func (c *Conn) carryHTTP(ctx context.Context, t string) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Long-poll needs no pure acks: every poll acknowledges.
	leg, err := c.Attach(c.Acked(), t, t != LongPoll)
	if err != nil {
		return false, err
	}
	defer leg.Detach()
	leg.SetAckPolicy(c.ackPolicy())
	c.attached(t)
	upErr := make(chan error, 1)
	go func() {
		err := c.upstream(ctx, leg)
		cancel()
		upErr <- err
	}()
	ok, err := c.downstream(ctx, t)
	cancel()
	uerr := <-upErr
	if c.isDone() {
		c.finalAck()
		return ok, nil
	}
	if isFatal(uerr) {
		return ok, uerr
	}
	return ok, err
}

func isFatal(err error) bool {
	var fe errFatal
	return errors.As(fatalFor(err), &fe)
}

// upstream POSTs frames and acknowledgements until ctx ends.
func (c *Conn) upstream(ctx context.Context, leg *emulation.Leg) error {
	maxBody := min(int(c.info.MaxBody/2), c.o.MaxBatchBytes)
	leg.SetMaxFrames(c.info.MaxFrames)
	for {
		b, err := leg.Next(ctx, c.heartbeat(), maxBody)
		if err == emulation.ErrSessionDone {
			return nil
		}
		if err != nil {
			return err
		}
		if len(b.Frames) == 0 && b.Ack == 0 {
			continue
		}
		if len(b.Frames) == 0 {
			// Only an ack is due: let frames written meanwhile join it,
			// but send as soon as there is one.
			more, err := leg.Next(ctx, ackDelay, maxBody)
			if err != nil && err != emulation.ErrSessionDone {
				return err
			}
			b.Frames = more.Frames
		}
		if err := c.postRetry(ctx, b.Frames); err != nil {
			return err
		}
	}
}

// postRetry sends frames until the server takes them.
func (c *Conn) postRetry(ctx context.Context, frames []wire.Frame) error {
	var body []byte
	for i := range frames {
		body = append(frames[i].AppendText(body), '\n')
	}
	for attempt := 1; ; attempt++ {
		r, err := c.post(ctx, frames, body)
		if err == nil {
			return c.Ack(r)
		}
		if isFatal(err) || ctx.Err() != nil {
			return err
		}
		var se *StatusError
		if errors.As(err, &se) && se.Code < 500 {
			return err
		}
		if !sleepCtx(ctx, c.backoff(attempt)) {
			return ctx.Err()
		}
	}
}

func (c *Conn) post(ctx context.Context, frames []wire.Frame, body []byte) (uint64, error) {
	u := *c.base
	u.Path += "/.ferry/" + c.info.Session + "/send"
	q := url.Values{"ack": {strconv.FormatUint(c.Received(), 10)}}
	if len(frames) > 0 {
		q.Set("seq", strconv.FormatUint(frames[0].Seq, 10))
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	setHeaders(req, c.o.Header)
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, httpErr(resp, nil)
	}
	p, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	if err != nil {
		return 0, err
	}
	if len(p) < 2 || p[0] != wire.KindAck {
		return 0, fmt.Errorf("client: bad send response %q", p)
	}
	n, ok := wire.ParseUint(string(bytes.TrimSpace(p[1:])))
	if !ok {
		return 0, fmt.Errorf("client: bad send response %q", p)
	}
	return n, nil
}

// finalAck tells the server, best effort, that its close frame arrived,
// so it can forget the session at once instead of after its resume
// timeout.
func (c *Conn) finalAck() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = c.post(ctx, nil, nil)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// downstream reads the event stream or polls until the carrier drops.
func (c *Conn) downstream(ctx context.Context, t string) (bool, error) {
	op := "sse"
	if t == LongPoll {
		op = "poll"
	}
	connected := false
	u := *c.base
	u.Path += "/.ferry/" + c.info.Session + "/" + op
	u.RawQuery, u.Fragment = "", ""
	prefix := u.String() + "?last="
	dec := wire.NewEventDecoder(nil) // one buffer for every request of this carrier
	for {
		err := c.getStream(ctx, prefix+strconv.FormatUint(c.Received(), 10), dec)
		if err == nil {
			connected = true
			continue // reconnect frame or a finished poll
		}
		if errors.Is(err, errDone) {
			return true, nil
		}
		return connected, err
	}
}

var errDone = errors.New("client: session done")

// getStream runs one downstream request; nil means open the next one.
func (c *Conn) getStream(ctx context.Context, u string, dec *wire.EventDecoder) error {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	setHeaders(req, c.o.Header)
	resp, err := c.o.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return httpErr(resp, nil)
	}
	idle := 2*c.heartbeat() + 5*time.Second
	watchdog := time.AfterFunc(idle, cancel)
	defer watchdog.Stop()
	dec.Reset(resp.Body)
	defer dec.Reset(nil)
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			return c.afterStream()
		}
		if err != nil {
			return err
		}
		watchdog.Reset(idle)
		again, err := c.handleEvent(ctx, ev.ID, ev.Data)
		if err != nil || again {
			return err
		}
	}
}

func (c *Conn) afterStream() error {
	select {
	case <-c.Done():
		return errDone
	default:
		return nil
	}
}

// handleEvent processes one event (PROTOCOL.md §5.1): a frame per data
// line, the sequenced ones consecutive and the last of them numbered id.
// again means open the next request now.
func (c *Conn) handleEvent(ctx context.Context, id string, data []byte) (again bool, err error) {
	if len(data) == 0 {
		return false, wire.ErrBadFrame
	}
	frames := c.evFrames[:0]
	defer func() {
		clear(frames) // keep no payloads
		if cap(frames) <= evKeepFrames {
			c.evFrames = frames[:0]
		}
	}()
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
			if len(data) == 0 {
				return false, wire.ErrBadFrame // an empty last line
			}
		} else {
			data = nil
		}
		if len(line) == 0 {
			return false, wire.ErrBadFrame
		}
		switch line[0] {
		case wire.KindHeartbeat, wire.KindOpen:
			continue
		case wire.KindReconnect:
			again = true
			continue
		}
		f, err := wire.ParseSequenced(line)
		if err != nil {
			return false, err
		}
		frames = append(frames, f)
	}
	if len(frames) == 0 {
		return again, nil
	}
	last, ok := wire.ParseUint(id)
	if !ok || last < uint64(len(frames)) {
		return false, wire.ErrBadFrame
	}
	first := last - uint64(len(frames)) + 1
	if last <= c.Received() {
		return again, nil
	}
	_, err = c.Deliver(ctx, first, frames)
	return again, err
}

// evKeepFrames is the largest scratch array handleEvent keeps between
// events; a rare large batch gets one of its own.
const evKeepFrames = 64
