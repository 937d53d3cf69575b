package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Plan is how a run spreads its sessions over client processes.
type Plan struct {
	Procs         int   `json:"procs"`
	Shares        []int `json:"shares"`          // sessions per process
	FDsPerSession int   `json:"fds_per_session"` // descriptors one session may use
	PerProc       int   `json:"per_proc"`        // sessions one process can hold
	Sources       int   `json:"sources"`         // loopback source addresses (ferry target)
}

// fdReserve is the descriptors a process keeps for other uses (the
// shared POST pool of -share-http among them).
const fdReserve = 256 + sharedPosts

// portsPerSource is how many connections to one server address one
// source address carries before another is used: the default ephemeral
// port range (32768-60999) has 28,232 ports.
const portsPerSource = 25000

// fdsPerSession returns the descriptors a session of transport may hold:
// an SSE or long-poll session has its downstream request and its POST
// connection.
func fdsPerSession(c *Config) int {
	switch c.Transport {
	case "native", "websocket":
		return 1
	}
	if c.ShareHTTP && c.Target == "ferry" {
		return 1
	}
	return 2
}

// MakePlan decides the number of client processes for c when each may
// open limit descriptors: at least c.Procs, and as many as the sessions'
// descriptors require.
func MakePlan(c *Config, limit uint64) (Plan, error) {
	fds := fdsPerSession(c)
	perProc := max((int(min(limit, 1<<30))-fdReserve)/fds, 1)
	procs := max(c.Procs, (c.Sessions+perProc-1)/perProc, 1)
	procs = min(procs, c.Sessions)
	if procs > MaxProcs {
		return Plan{}, fmt.Errorf("%d sessions need %d processes at %d descriptors each: over %d", c.Sessions, procs, limit, MaxProcs)
	}
	p := Plan{Procs: procs, FDsPerSession: fds, PerProc: perProc, Sources: 1}
	for i := range procs {
		p.Shares = append(p.Shares, c.Sessions/procs+btoi(i < c.Sessions%procs))
	}
	if p.Shares[0] > perProc {
		return Plan{}, fmt.Errorf("%d sessions in %d processes: %d each is over the %d descriptors a process may open", c.Sessions, procs, p.Shares[0], limit)
	}
	if u, err := url.Parse(c.URL); err == nil && u.Hostname() == "127.0.0.1" && c.Target == "ferry" {
		p.Sources = min(max((c.Sessions*fds+portsPerSource-1)/portsPerSource, 1), 250)
	}
	return p, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// runner is one process's part of a run, in this process or a child.
type runner interface {
	ready(ctx context.Context) (readyInfo, error)
	begin(start time.Time) error
	result(ctx context.Context) (*Partial, error)
	kill()
}

// Run runs the benchmark c describes (call Validate first) and returns
// what it measured. Progress lines go to progress (nil: none).
func Run(ctx context.Context, c Config, progress io.Writer) (*Result, error) {
	if progress == nil {
		progress = io.Discard
	}
	plan, err := MakePlan(&c, fileLimit())
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout(&c))
	defer cancel()
	res := &Result{Tool: "ferry-bench", Version: ResultVersion, Mode: c.Mode, Target: c.Target, Transport: c.Transport,
		URL: c.URL, Started: time.Now().UTC().Truncate(time.Millisecond), Sessions: c.Sessions, Procs: plan.Procs, Size: c.Size,
		WarmupS: c.Warmup.Seconds(), DurationS: c.Duration.Seconds()}
	if c.Mode == ModeEcho {
		res.Inflight = c.Inflight
	}
	if c.Mode == ModeBroadcast {
		res.Rate = c.Rate
	}
	var wmu sync.Mutex
	warn := func(err error) {
		wmu.Lock()
		defer wmu.Unlock()
		res.Warnings = append(res.Warnings, err.Error())
	}
	var probe *memProbe
	var before MemSnapshot
	if c.Mode == ModeHold {
		probe = newMemProbe(&c)
		if before, err = probe.snapshot(ctx); err != nil {
			warn(err)
		}
	}
	var pub *publisher
	if c.Mode == ModeBroadcast {
		if pub, err = newPublisher(&c); err != nil {
			return nil, err
		}
		defer pub.close()
	}

	fmt.Fprintf(progress, "ferry-bench: %s: opening %d %s sessions in %d process(es)\n", c.Mode, c.Sessions, c.Transport, plan.Procs)
	t0 := time.Now()
	runners, err := startRunners(ctx, &c, plan)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			for _, r := range runners {
				r.kill()
			}
		}
	}()
	open := 0
	for _, r := range runners {
		ri, err := r.ready(ctx)
		if err != nil {
			return nil, err
		}
		open += ri.Open
	}
	fmt.Fprintf(progress, "ferry-bench: %d sessions open in %.1fs; running %v + %v warm-up\n", open, time.Since(t0).Seconds(), c.Duration, c.Warmup)
	start := time.Now().Add(100 * time.Millisecond)
	if open == 0 {
		start = time.Now() // nothing to measure: collect the dial errors
	}
	win := newWindow(start, &c)
	for _, r := range runners {
		if err := r.begin(start); err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	if pub != nil && open > 0 {
		wg.Go(func() { pub.run(ctx, win) })
	}
	if c.ServerPID > 0 && c.Mode != ModeHold && open > 0 {
		wg.Go(func() {
			cores, err := serverCPU(ctx, c.ServerPID, win)
			if err != nil {
				warn(err)
			}
			res.ServerCPUCores = round3(cores)
		})
	}
	var after MemSnapshot
	if probe != nil && open > 0 {
		wg.Go(func() {
			if !sleepCtx(ctx, time.Until(start.Add(c.Settle))) {
				return
			}
			var err error
			if after, err = probe.snapshot(ctx); err != nil {
				warn(err)
			}
		})
	}
	parts := make([]*Partial, len(runners))
	var errs []error
	for i, r := range runners {
		if parts[i], err = r.result(ctx); err != nil {
			errs = append(errs, fmt.Errorf("process %d: %w", i, err))
		}
	}
	wg.Wait()
	ok = true
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p := mergePartials(parts)
	res.fill(&c, p)
	if pub != nil {
		b := res.Broadcast
		b.Published = pub.stat.published.Load()
		b.PublishedPerS = round1(float64(b.Published) / c.Duration.Seconds())
		b.PublishErrors = pub.stat.errors.Load()
		b.PublishLate = pub.stat.late.Load()
		b.Expected = b.Published * uint64(open)
		res.Errors += int(b.PublishErrors)
		res.ErrorSamples = append(res.ErrorSamples, pub.stat.samples...)
	}
	if probe != nil {
		res.Hold = &HoldResult{Before: before, After: after}
		if open > 0 {
			res.Hold.PerSession = perSession(before, after, open)
		}
	}
	if open == 0 {
		return res, fmt.Errorf("no session opened: %s", strings.Join(res.ErrorSamples, "; "))
	}
	return res, nil
}

// runTimeout bounds a whole run.
func runTimeout(c *Config) time.Duration {
	return c.DialTimeout + c.Warmup + c.Duration + drainTime + closeTime + time.Minute
}

// serverCPU returns the server's CPU time over the window in cores.
func serverCPU(ctx context.Context, pid int, win window) (float64, error) {
	if !sleepCtx(ctx, time.Until(win.warm)) {
		return 0, ctx.Err()
	}
	a, err := procCPU(pid)
	if err != nil {
		return 0, err
	}
	t := time.Now()
	if !sleepCtx(ctx, time.Until(win.end)) {
		return 0, ctx.Err()
	}
	b, err := procCPU(pid)
	if err != nil {
		return 0, err
	}
	return (b - a).Seconds() / time.Since(t).Seconds(), nil
}

func mergePartials(parts []*Partial) *Partial {
	m := &Partial{Dial: NewHistogram(), Latency: NewHistogram(), SessionMin: ^uint64(0)}
	for _, p := range parts {
		m.Open += p.Open
		m.DialErrors += p.DialErrors
		m.Errors += p.Errors
		m.CloseTimeouts += p.CloseTimeouts
		m.NoFence += p.NoFence
		m.Messages += p.Messages
		m.All += p.All
		m.Bytes += p.Bytes
		m.CPU += p.CPU
		m.Dial.Merge(p.Dial)
		m.Latency.Merge(p.Latency)
		if p.Open > 0 {
			m.SessionMin = min(m.SessionMin, p.SessionMin)
			m.SessionMax = max(m.SessionMax, p.SessionMax)
		}
		for _, s := range p.ErrorSamples {
			if len(m.ErrorSamples) < maxErrorSamples && !containsString(m.ErrorSamples, s) {
				m.ErrorSamples = append(m.ErrorSamples, s)
			}
		}
	}
	if m.SessionMin > m.SessionMax {
		m.SessionMin = 0
	}
	return m
}

func startRunners(ctx context.Context, c *Config, plan Plan) ([]runner, error) {
	var runners []runner
	first := 0
	for i, n := range plan.Shares {
		sh := share{Config: *c, Index: i, Sessions: n, First: first, Sources: plan.Sources}
		first += n
		if plan.Procs == 1 {
			return []runner{startLocal(ctx, sh)}, nil
		}
		r, err := startChild(ctx, c, sh)
		if err != nil {
			for _, r := range runners {
				r.kill()
			}
			return nil, err
		}
		runners = append(runners, r)
	}
	return runners, nil
}

// localRunner runs a share in this process.
type localRunner struct {
	readyc chan readyInfo
	startc chan time.Time
	done   chan struct{}
	part   *Partial
	err    error
	cancel context.CancelFunc
}

func startLocal(ctx context.Context, sh share) *localRunner {
	ctx, cancel := context.WithCancel(ctx)
	r := &localRunner{readyc: make(chan readyInfo, 1), startc: make(chan time.Time, 1), done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(r.done)
		r.part, r.err = work(ctx, sh, func(ri readyInfo) { r.readyc <- ri }, r.startc)
	}()
	return r
}

func (r *localRunner) ready(ctx context.Context) (readyInfo, error) {
	select {
	case ri := <-r.readyc:
		return ri, nil
	case <-r.done:
		return readyInfo{}, r.err
	case <-ctx.Done():
		return readyInfo{}, ctx.Err()
	}
}

func (r *localRunner) begin(t time.Time) error {
	r.startc <- t
	return nil
}

func (r *localRunner) result(ctx context.Context) (*Partial, error) {
	select {
	case <-r.done:
		return r.part, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *localRunner) kill() {
	r.cancel()
	<-r.done
}

// workerMsg is one line a worker process writes on its stdout.
type workerMsg struct {
	Ready   *readyInfo `json:"ready,omitempty"`
	Partial *Partial   `json:"partial,omitempty"`
	Error   string     `json:"error,omitempty"`
}

// childRunner runs a share in a worker process.
type childRunner struct {
	index int
	cmd   *exec.Cmd
	stdin io.WriteCloser
	msgs  chan workerMsg // closed at the end of its stdout
	rerr  error          // why stdout ended, once msgs is closed
}

func startChild(ctx context.Context, c *Config, sh share) (*childRunner, error) {
	argv := c.WorkerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		argv = []string{exe, "worker"}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), c.WorkerEnv...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &childRunner{index: sh.Index, cmd: cmd, stdin: stdin, msgs: make(chan workerMsg, 2)}
	go func() {
		defer close(r.msgs)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<16), 64<<20)
		for sc.Scan() {
			var m workerMsg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				r.rerr = fmt.Errorf("bad worker output %.80q: %w", sc.Bytes(), err)
				return
			}
			r.msgs <- m
		}
		r.rerr = sc.Err()
	}()
	spec, err := json.Marshal(sh)
	if err != nil {
		r.kill()
		return nil, err
	}
	if _, err := stdin.Write(append(spec, '\n')); err != nil {
		r.kill()
		return nil, err
	}
	return r, nil
}

// next returns the worker's next message.
func (r *childRunner) next(ctx context.Context) (workerMsg, error) {
	select {
	case m, ok := <-r.msgs:
		if !ok {
			werr := r.cmd.Wait()
			return m, fmt.Errorf("worker %d ended: %v", r.index, errors.Join(r.rerr, werr))
		}
		if m.Error != "" {
			return m, fmt.Errorf("worker %d: %s", r.index, m.Error)
		}
		return m, nil
	case <-ctx.Done():
		return workerMsg{}, ctx.Err()
	}
}

func (r *childRunner) ready(ctx context.Context) (readyInfo, error) {
	m, err := r.next(ctx)
	if err != nil {
		return readyInfo{}, err
	}
	if m.Ready == nil {
		return readyInfo{}, fmt.Errorf("worker %d: expected ready", r.index)
	}
	return *m.Ready, nil
}

func (r *childRunner) begin(t time.Time) error {
	_, err := fmt.Fprintf(r.stdin, "go %d\n", t.UnixNano())
	return err
}

func (r *childRunner) result(ctx context.Context) (*Partial, error) {
	m, err := r.next(ctx)
	if err != nil {
		return nil, err
	}
	if m.Partial == nil {
		return nil, fmt.Errorf("worker %d: expected a result", r.index)
	}
	r.stdin.Close()
	if err := r.cmd.Wait(); err != nil {
		return nil, fmt.Errorf("worker %d: %w", r.index, err)
	}
	return m.Partial, nil
}

func (r *childRunner) kill() {
	if r.cmd.ProcessState == nil && r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
}

// WorkerMain is the hidden "worker" subcommand: it reads its share of a
// run as one JSON line on stdin, opens the sessions, writes a ready line
// on stdout, waits for "go UNIXNANO" on stdin, runs, and writes its
// Partial as a JSON line. It stops early if stdin closes.
func WorkerMain(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	err := worker1(ctx, stdin, enc)
	if err != nil {
		_ = enc.Encode(workerMsg{Error: err.Error()})
	}
	return err
}

func worker1(ctx context.Context, stdin io.Reader, enc *json.Encoder) error {
	br := bufio.NewReader(stdin)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("reading the share: %w", err)
	}
	var sh share
	if err := json.Unmarshal(line, &sh); err != nil {
		return fmt.Errorf("bad share: %w", err)
	}
	if _, err := RaiseFileLimit(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout(&sh.Config))
	defer cancel()
	startc := make(chan time.Time, 1)
	go func() {
		defer cancel() // stdin closed: the parent is done or gone
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		ns, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(l), "go "), 10, 64)
		if err != nil {
			return
		}
		startc <- time.Unix(0, ns)
		_, _ = io.Copy(io.Discard, br)
	}()
	var encErr error
	part, err := work(ctx, sh, func(ri readyInfo) { encErr = enc.Encode(workerMsg{Ready: &ri}) }, startc)
	if err != nil {
		return err
	}
	if encErr != nil {
		return encErr
	}
	return enc.Encode(workerMsg{Partial: part})
}
