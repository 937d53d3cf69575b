/* global AbortSignal, ReadableStream, Response -- Node.js's own, for the real-platform test */
'use strict';

// Event streams read with fetch (the fetchStream option): which reader a
// leg picks, chunks split at awkward places, a stream cut mid-event,
// abort on replacement, and the fall back to XHR streaming where fetch
// has no readable body. The fake fetch (helpers.js) settles on the fake
// clock; one test uses Node's own Response, ReadableStream,
// AbortController and TextDecoder with real promises.

const test = require('node:test');
const assert = require('node:assert/strict');
const {harness, record, FakeServer} = require('./helpers');

const SID = 'r1W0x3i0Zm8yQ0b9N4q5aA';

function info(extra = {}) {
  return JSON.stringify(Object.assign({
    v: 1, session: SID, protocol: '', transports: ['websocket', 'sse', 'longpoll'], heartbeatMs: 25000,
    resumeTimeoutMs: 30000, maxMessageBytes: 16777216, maxBodyBytes: 22373716, windowBytes: 1048576, ack: 0
  }, extra));
}

const PRELUDE = ':' + ' '.repeat(2048) + '\n\nretry: 1000\n';
const OPEN = PRELUDE + 'data: o' + info() + '\n\n';

// ev builds an event; data may be an array of frames, one data line each.
function ev(id, data) {
  return (id ? `id: ${id}\n` : '') + [].concat(data).map((d) => `data: ${d}\n`).join('') + '\n';
}

// start opens a socket on sse and answers POST open; the event stream is
// left to the test. o: env (harness options), options (socket options).
function start(o = {}) {
  const h = harness(Object.assign({ws: false, fetch: true}, o.env));
  const ws = h.open('ws://example.com/echo', [], Object.assign({transports: ['sse']}, o.options));
  const log = record(ws);
  h.xhrs[0].respond(200, info());
  return {h, ws, log};
}

// openFetch is start, then the opening of the event stream read by fetch.
function openFetch(o = {}) {
  const r = start(o);
  const f = r.h.lastFetch();
  assert.ok(f, 'the event stream is read with fetch');
  f.chunk(OPEN);
  r.h.clock.tick(0);
  assert.deepEqual(r.log, ['open']);
  return Object.assign(r, {f});
}

// reader names how the first leg read its stream.
function reader(h) {
  if (h.sources.length) {
    return 'eventsource';
  }
  if (h.fetches.length) {
    return 'fetch';
  }
  return h.lastXHR('/sse') ? 'xhr' : 'none';
}

test('fetch stream: a CORS-simple GET of sse?last=N, credentials as withCredentials says', () => {
  for (const withCredentials of [false, true]) {
    const {h} = start({options: {withCredentials}});
    const f = h.lastFetch();
    assert.equal(f.method, 'GET');
    assert.equal(f.path, `/echo/.ferry/${SID}/sse`);
    assert.equal(f.param('last'), '0');
    assert.equal(f.init.headers, undefined, 'no request headers: no preflight');
    assert.equal(f.init.credentials, withCredentials ? 'include' : 'same-origin');
    assert.ok(f.init.signal instanceof AbortSignal);
    assert.equal(h.pendingXHR().length, 0, 'no XHR stream besides');
  }
});

test('fetch stream: which reader a leg uses', () => {
  const cases = [
    // [harness options, socket options, reader]
    [{fetch: true}, {}, 'fetch'],
    [{fetch: true, es: true}, {}, 'eventsource'],
    [{fetch: true, es: true}, {eventSource: false}, 'fetch'],
    [{fetch: true, es: true}, {fetchStream: true}, 'fetch'],
    [{fetch: true}, {fetchStream: false}, 'xhr'],
    [{fetch: true, es: true}, {fetchStream: false}, 'eventsource'],
    [{fetch: true, es: true}, {fetchStream: false, eventSource: false}, 'xhr'],
    [{fetch: true, AbortController: null}, {fetchStream: true}, 'xhr'],
    [{fetch: true, TextDecoder: null}, {fetchStream: true}, 'xhr'],
    [{fetch: false}, {fetchStream: true}, 'xhr'],
    [{fetch: false, es: true}, {fetchStream: true}, 'eventsource']
  ];
  for (const [env, options, want] of cases) {
    const {h} = start({env, options});
    assert.equal(reader(h), want, JSON.stringify({env, options}));
  }
});

test('fetch stream: chunks split anywhere (mid-line, mid-UTF-8 sequence, mid-event) decode the same', () => {
  const texts = ['caf\u00e9', '\ud83d\ude00 astral', '\u65e5\u672c\u8a9e', 'a\\nb', 'x'.repeat(300)];
  const body = OPEN + ev(1, 't' + texts[0]) + ': a comment\n' + ev(0, 'h') +
    ev(3, ['t' + texts[1], 't' + texts[2]]) + 'id: 4\r\ndata: t' + texts[3] + '\r\n\r\n' + ev(5, 't' + texts[4]);
  const bytes = new Uint8Array(Buffer.from(body, 'utf8'));
  const want = ['open', 'message:caf\u00e9', 'message:\ud83d\ude00 astral', 'message:\u65e5\u672c\u8a9e',
    'message:a\nb', 'message:' + 'x'.repeat(300)];
  const run = (cuts, name) => {
    const {h, log} = start();
    const f = h.lastFetch();
    let from = 0;
    for (const to of cuts.concat(bytes.length)) {
      f.chunk(bytes.subarray(from, to));
      h.clock.tick(0);
      from = to;
    }
    assert.deepEqual(log, want, name);
    assert.equal(h.fetches.length, 1, name + ': one stream');
  };
  // Every cut after the prelude, two pieces each.
  for (let i = PRELUDE.length; i < bytes.length; i++) {
    run([i], `cut at ${i}`);
  }
  // One byte a chunk.
  run([...bytes.keys()].slice(1), 'one byte a chunk');
  // Within each multi-byte sequence, and between CR and LF.
  const at = (s, k = 0) => Buffer.from(body.slice(0, body.indexOf(s)), 'utf8').length + k;
  run([at('\u00e9', 1), at('\ud83d', 1), at('\ud83d', 2), at('\ud83d', 3), at('\u672c', 2), at('\r\n', 1)], 'inside sequences');
});

test('fetch stream: a stream cut mid-event resumes with last= of the last complete event', () => {
  // A network error mid-event: the carrier is down, and resumes after a backoff.
  const {h, log, f} = openFetch();
  f.chunk(ev(1, 'tone') + ev(2, 'ttwo'));
  const partial = Buffer.from('id: 3\ndata: tthr\u00e9e', 'utf8');
  f.chunk(new Uint8Array(partial.subarray(0, partial.length - 1))); // ends inside the é
  h.clock.tick(0);
  f.fail();
  h.clock.tick(0);
  assert.deepEqual(log, ['open', 'message:one', 'message:two']);
  const next = h.lastFetch(); // the first retry goes at once
  assert.notEqual(next, f);
  assert.equal(next.param('last'), '2');
  next.chunk(OPEN + ev(3, 'tthr\u00e9e') + ev(4, 'tfour'));
  h.clock.tick(0);
  assert.deepEqual(log, ['open', 'message:one', 'message:two', 'message:thr\u00e9e', 'message:four']);

  // A body that ends mid-event (Connection: close, cut): the next stream
  // opens at once.
  next.chunk(ev(5, 'tfive') + 'id: 6\ndata: tsi');
  next.end();
  h.clock.tick(0);
  const third = h.lastFetch();
  assert.notEqual(third, next);
  assert.equal(third.param('last'), '5');
  third.chunk(OPEN + ev(6, 'tsix'));
  h.clock.tick(0);
  assert.deepEqual(log.slice(5), ['message:five', 'message:six']);
});

test('fetch stream: the r frame ends the stream: aborted, then the next opens after the last event', () => {
  const {h, log, f} = openFetch();
  f.chunk(ev(1, 'tone') + ev(0, 'r') + ev(2, 'ttwo-on-the-old-stream'));
  h.clock.tick(0);
  assert.ok(f.aborted, 'the old fetch is aborted');
  assert.ok(f.init.signal.aborted);
  const next = h.lastFetch();
  assert.notEqual(next, f);
  assert.equal(next.param('last'), '1');
  next.chunk(OPEN + ev(2, 'ttwo'));
  h.clock.tick(0);
  assert.deepEqual(log, ['open', 'message:one', 'message:two']);
});

test('fetch stream: a replaced stream is ignored even when its abort is lost', () => {
  // A fetch that drops its AbortSignal: what arrives on the old stream
  // after the carrier moved on must not be read.
  const h = harness({ws: false});
  h.env.fetch = (url, init) => new h.FakeFetch(url, {method: init.method}).answer;
  const log = record(h.open('ws://example.com/echo', [], {transports: ['sse']}));
  h.xhrs[0].respond(200, info());
  const old = h.lastFetch();
  old.chunk(OPEN + ev(1, 'tone') + ev(0, 'r'));
  h.clock.tick(0);
  assert.deepEqual(log, ['open', 'message:one']);
  assert.equal(h.fetches.length, 2);
  assert.ok(!old.done, 'the old stream is still open');
  old.chunk(ev(2, 'tstale'));
  h.clock.tick(0);
  h.lastFetch().chunk(OPEN + ev(2, 'ttwo'));
  h.clock.tick(0);
  assert.deepEqual(log, ['open', 'message:one', 'message:two']);
});

test('fetch stream: close aborts the stream (FakeServer)', () => {
  const h = harness({ws: false, fetch: true});
  const server = new FakeServer(h);
  const ws = h.open('ws://example.com/echo', [], {transports: ['sse']});
  const log = record(ws);
  h.clock.tick(50);
  ws.send('hello');
  h.clock.tick(50);
  const f = h.lastFetch();
  assert.equal(h.fetches.length, 1);
  assert.ok(!f.done);
  ws.close(1000);
  h.clock.tick(2000);
  assert.deepEqual(log, ['open', 'message:hello', 'close:1000::true']);
  assert.ok(f.aborted, 'the stream is aborted');
  assert.equal(server.only().leg, null);
});

test('fetch stream: no first event in time (a buffering proxy) aborts it and moves to long-poll', () => {
  const {h, log} = start({options: {transports: ['sse', 'longpoll']}});
  const f = h.lastFetch();
  f.chunk(PRELUDE); // the headers and the prelude, then nothing
  h.clock.tick(2999);
  assert.equal(h.lastXHR('/poll'), undefined);
  h.clock.tick(1);
  assert.ok(f.aborted, 'the stream on trial is aborted');
  const poll = h.lastXHR('/poll');
  assert.ok(poll, 'long-poll took over');
  assert.equal(poll.param('last'), '0');
  f.chunk('data: o' + info() + '\n\n'); // too late, and aborted
  h.clock.tick(0);
  assert.deepEqual(log, ['open'], 'open came with POST open; nothing since');
});

test('fetch stream: without a readable body, the session reads its streams with XHR', () => {
  const {h, log} = start();
  h.fetchBodies = false;
  const f = h.lastFetch();
  f.chunk(OPEN); // headers in: a response without body.getReader
  h.clock.tick(0);
  assert.ok(f.aborted);
  const x = h.lastXHR('/sse');
  assert.ok(x, 'XHR streaming took over');
  assert.equal(x.param('last'), '0');
  x.chunk(OPEN + ev(1, 'tone') + ev(0, 'r'));
  assert.deepEqual(log, ['open', 'message:one']);
  assert.equal(h.fetches.length, 1, 'the next leg goes straight to XHR');
  const next = h.lastXHR('/sse');
  assert.notEqual(next, x);
  assert.equal(next.param('last'), '1');
});

test('fetch stream: an error status ends like XHR streaming: 404 is a lost session', () => {
  const {h, log} = start();
  h.lastFetch().respond(404, 'ferry: session not found\n');
  h.clock.tick(0);
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
});

test('fetch stream: fetch rejected before the headers resumes on a new fetch', () => {
  const {h, log, f} = openFetch();
  f.chunk(ev(1, 'tone'));
  f.end();
  h.clock.tick(0);
  const next = h.lastFetch();
  next.fail(); // the network error comes before any header
  h.clock.tick(0);
  h.clock.tick(1000);
  const third = h.lastFetch();
  assert.notEqual(third, next);
  assert.equal(third.param('last'), '1');
  third.chunk(OPEN + ev(2, 'ttwo'));
  h.clock.tick(0);
  assert.deepEqual(log, ['open', 'message:one', 'message:two']);
});

test('fetch stream: with Node\'s Response, ReadableStream, AbortController and TextDecoder', async () => {
  const flush = () => new Promise((resolve) => setImmediate(resolve));
  const streams = [];
  const fetch = (url, init) => {
    let controller;
    const body = new ReadableStream({start: (c) => (controller = c)});
    const s = {url: new URL(url), init, controller};
    init.signal.addEventListener('abort', () => controller.error(new DOMException('aborted', 'AbortError')));
    streams.push(s);
    return Promise.resolve(new Response(body, {status: 200, headers: {'Content-Type': 'text/event-stream'}}));
  };
  const {h, ws, log} = start({env: {fetch}});
  const bytes = new Uint8Array(Buffer.from(OPEN + ev(1, 't\ud83d\ude00') + ev(2, 'tdone'), 'utf8'));
  const cut = bytes.length - 20; // inside the emoji's event
  for (const [a, b] of [[0, 5], [5, cut - 3], [cut - 3, cut], [cut, bytes.length]]) {
    streams[0].controller.enqueue(bytes.slice(a, b));
    await flush();
  }
  assert.deepEqual(log, ['open', 'message:\ud83d\ude00', 'message:done']);
  assert.equal(streams[0].url.searchParams.get('last'), '0');
  ws.close(1000);
  h.lastXHR('/send').respond(200, 'a1');
  streams[0].controller.enqueue(new Uint8Array(Buffer.from(ev(3, 'c1000'))));
  await flush();
  h.clock.tick(100);
  assert.deepEqual(log.slice(3), ['close:1000::true']);
  assert.ok(streams[0].init.signal.aborted, 'closing aborted the stream');
});
