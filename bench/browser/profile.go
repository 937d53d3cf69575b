package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/css"
	"github.com/chromedp/cdproto/dom"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// startProfile starts the V8 CPU profiler of the page.
func startProfile(ctx context.Context, intervalUS int) error {
	if _, err := chromedp.Call(ctx, profiler.Enable, cdp.Empty{}); err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	if _, err := chromedp.Call(ctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: int64(intervalUS)}); err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	if _, err := chromedp.Call(ctx, profiler.Start, cdp.Empty{}); err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	return nil
}

// stopProfile stops the profiler, writes the profile to file (it opens
// in DevTools' Performance panel) and prints the functions with the most
// self time, and the total time under each of them, to stderr.
func stopProfile(ctx context.Context, file string) error {
	res, err := chromedp.Call(ctx, profiler.Stop, cdp.Empty{})
	if err != nil {
		return fmt.Errorf("profiler: %w", err)
	}
	p := res.Profile
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		return err
	}
	// Sample time per node: each sample's delta is charged to its node.
	self := map[int64]float64{}
	var total float64
	for i, id := range p.Samples {
		if i+1 < len(p.TimeDeltas) {
			d := float64(p.TimeDeltas[i+1])
			self[id] += d
			total += d
		}
	}
	byID := map[int64]*profiler.ProfileNode{}
	parent := map[int64]int64{}
	for _, n := range p.Nodes {
		byID[n.ID] = n
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	type fn struct {
		name       string
		self, incl float64
	}
	key := func(n *profiler.ProfileNode) string {
		cf := n.CallFrame
		name := cf.FunctionName
		if name == "" {
			name = "(anonymous)"
		}
		if cf.URL == "" {
			return name
		}
		base := cf.URL
		for i := len(base) - 1; i >= 0; i-- {
			if base[i] == '/' {
				base = base[i+1:]
				break
			}
		}
		return fmt.Sprintf("%s %s:%d", name, base, cf.LineNumber+1)
	}
	fns := map[string]*fn{}
	get := func(k string) *fn {
		f := fns[k]
		if f == nil {
			f = &fn{name: k}
			fns[k] = f
		}
		return f
	}
	for id, t := range self {
		n := byID[id]
		get(key(n)).self += t
		// Inclusive time: once per distinct function on the stack.
		seen := map[string]bool{}
		for x, ok := id, true; ok; x, ok = parent[x] {
			k := key(byID[x])
			if !seen[k] {
				seen[k] = true
				get(k).incl += t
			}
		}
	}
	list := make([]*fn, 0, len(fns))
	for _, f := range fns {
		list = append(list, f)
	}
	slices.SortFunc(list, func(a, b *fn) int { return cmp.Compare(b.self, a.self) })
	fmt.Fprintf(os.Stderr, "browser: CPU profile %s: %.0f ms sampled\n%8s %6s %8s %6s  function\n", file, total/1000, "self ms", "%", "incl ms", "%")
	for i, f := range list {
		if i == 40 {
			break
		}
		fmt.Fprintf(os.Stderr, "%8.1f %5.1f%% %8.1f %5.1f%%  %s\n", f.self/1000, 100*f.self/total, f.incl/1000, 100*f.incl/total, f.name)
	}
	return nil
}

// quietTarget starts the browser and turns off the DevTools domains that
// chromedp enables and this program does not use. With the Network domain
// on, Chromium reports every WebSocket frame and every EventSource message
// to chromedp as a protocol event: that work, in the page's renderer, the
// browser process and this program, used to be part of every message
// measured (the native WebSocket burst was about 9k msgs/s with it, 16k
// to 23k without).
func quietTarget(ctx context.Context) error {
	if _, err := chromedp.Call(ctx, network.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("disabling the Network domain: %w", err)
	}
	if _, err := chromedp.Call(ctx, css.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("disabling the CSS domain: %w", err)
	}
	if _, err := chromedp.Call(ctx, dom.Disable, cdp.Empty{}); err != nil {
		return fmt.Errorf("disabling the DOM domain: %w", err)
	}
	return nil
}
