package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// publishers is how many messages may be in flight at once: POSTs at a
// rate that one connection cannot keep, or senders at full speed.
const publishers = 8

// pubStats counts what the publisher sent.
type pubStats struct {
	published atomic.Uint64 // in the window
	total     atomic.Uint64
	errors    atomic.Uint64
	late      atomic.Uint64 // messages sent behind schedule (all publishers busy)
	mu        sync.Mutex
	samples   []string
}

func (p *pubStats) fail(err error) {
	p.errors.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.samples) < maxErrorSamples && !containsString(p.samples, err.Error()) {
		p.samples = append(p.samples, err.Error())
	}
}

// publisher sends timestamped messages to a broadcast service.
type publisher struct {
	cfg  *Config
	hc   *http.Client
	udp  net.Conn
	stat pubStats
}

func newPublisher(c *Config) (*publisher, error) {
	p := &publisher{cfg: c}
	if c.UDP != "" {
		conn, err := net.Dial("udp", c.UDP)
		if err != nil {
			return nil, err
		}
		p.udp = conn
		return p, nil
	}
	p.hc = &http.Client{
		Timeout:   time.Minute, // a POST that times out may still have been published
		Transport: &http.Transport{MaxIdleConnsPerHost: publishers, MaxConnsPerHost: publishers},
	}
	return p, nil
}

func (p *publisher) close() {
	if p.udp != nil {
		p.udp.Close()
	}
	if p.hc != nil {
		p.hc.CloseIdleConnections()
	}
}

// run publishes from win.start until win.end: at Rate messages per second
// on a fixed schedule, or as fast as publishers senders can. Messages
// under way at win.end are finished, so that each one the subscribers
// count was counted as published; then it sends the fence.
func (p *publisher) run(ctx context.Context, win window) {
	p.schedule(ctx, win)
	p.fence(ctx, win)
}

// fence publishes, once every other message is out, one marked with
// fenceMark: subscribers stop reading when it arrives. Datagrams may be
// lost, so a UDP fence goes three times.
func (p *publisher) fence(ctx context.Context, win window) {
	sleepCtx(ctx, time.Until(win.end))
	buf := make([]byte, p.cfg.Size)
	for i := range 3 {
		for j := range buf {
			buf[j] = ' '
		}
		stampMessage(buf, time.Now(), p.cfg.TextTimestamps)
		buf[timestampBytes(p.cfg.TextTimestamps)] = fenceMark
		if p.udp != nil {
			_, _ = p.udp.Write(buf)
		} else if err := p.post(ctx, buf); err != nil && ctx.Err() == nil {
			p.stat.fail(err)
		}
		if p.udp == nil || i == 2 || !sleepCtx(ctx, 20*time.Millisecond) {
			return
		}
	}
}

// schedule sends the messages of the run and returns when all are out.
func (p *publisher) schedule(ctx context.Context, win window) {
	sched, cancel := context.WithDeadline(ctx, win.end)
	defer cancel()
	sleepCtx(sched, time.Until(win.start))
	var wg sync.WaitGroup
	defer wg.Wait()
	if p.cfg.Rate == 0 {
		for range publishers {
			wg.Go(func() {
				buf := make([]byte, p.cfg.Size)
				for sched.Err() == nil {
					p.send(ctx, buf, win)
				}
			})
		}
		return
	}
	interval := time.Duration(float64(time.Second) / p.cfg.Rate)
	sem := make(chan []byte, publishers)
	for range publishers {
		sem <- make([]byte, p.cfg.Size)
	}
	for i := int64(0); ; i++ {
		at := win.start.Add(time.Duration(i) * interval)
		if !at.Before(win.end) || !sleepCtx(sched, time.Until(at)) {
			return
		}
		var buf []byte
		select {
		case buf = <-sem:
		default:
			p.stat.late.Add(1)
			select {
			case buf = <-sem:
			case <-sched.Done():
				return
			}
		}
		wg.Go(func() {
			defer func() { sem <- buf }()
			p.send(ctx, buf, win)
		})
	}
}

// send publishes one message stamped with the current time.
func (p *publisher) send(ctx context.Context, buf []byte, win window) {
	for i := range buf {
		buf[i] = ' '
	}
	t := time.Now()
	stampMessage(buf, t, p.cfg.TextTimestamps)
	var err error
	if p.udp != nil {
		_, err = p.udp.Write(buf)
	} else {
		err = p.post(ctx, buf)
	}
	if err != nil {
		if ctx.Err() == nil {
			p.stat.fail(err)
		}
		return
	}
	p.stat.total.Add(1)
	if win.in(t) {
		p.stat.published.Add(1)
	}
}

func (p *publisher) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.Publish, bytes.NewReader(body))
	if err != nil {
		return err
	}
	ct := "application/octet-stream"
	if p.cfg.TextTimestamps {
		ct = "text/plain; charset=utf-8"
	}
	req.Header.Set("Content-Type", ct)
	if p.cfg.Secret != "" {
		req.Header.Set("Authorization", "Bearer "+p.cfg.Secret)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("publish: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}
