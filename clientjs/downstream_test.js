/* global require, Buffer -- node */
'use strict';

// Downstream paths of client.js that its speed depends on: events of
// several frames, the silence watchdog, binary delivery. Run by
// downstream_test.go (go test ./clientjs/), or:
//
//	node --test clientjs/downstream_test.js

const test = require('node:test');
const assert = require('node:assert/strict');
const {harness, record} = require('./test/helpers');

const SID = 'r1W0x3i0Zm8yQ0b9N4q5aA';
const PRELUDE = ':' + ' '.repeat(2048) + '\n\nretry: 1000\n';

function info(extra = {}) {
  return JSON.stringify(Object.assign({
    v: 1, session: SID, protocol: '', transports: ['websocket', 'sse', 'longpoll'], heartbeatMs: 25000,
    resumeTimeoutMs: 30000, maxMessageBytes: 16777216, maxBodyBytes: 22373716, windowBytes: 1048576, ack: 0
  }, extra));
}

// ev builds an event; data may be an array of frames, one data line each.
function ev(id, data) {
  return (id ? `id: ${id}\n` : '') + [].concat(data).map((d) => `data: ${d}\n`).join('') + '\n';
}

function openXHR(env = {}, extra = {}) {
  const h = harness(Object.assign({ws: false}, env));
  const ws = h.open('ws://example.com/echo', [], {transports: ['sse']});
  const log = record(ws);
  h.xhrs[0].respond(200, info(extra));
  const stream = h.lastXHR('/sse');
  stream.chunk(PRELUDE + ev(0, 'o' + info(extra)));
  return {h, ws, log, stream};
}

function posts(h) {
  return h.xhrs.filter((x) => x.path.endsWith('/send'));
}

function openES() {
  const h = harness({ws: false, es: true});
  const ws = h.open('ws://example.com/echo', [], {transports: ['sse']});
  const log = record(ws);
  h.xhrs[0].respond(200, info());
  const es = h.sources[h.sources.length - 1];
  es.message('o' + info());
  return {h, ws, log, es};
}

test('an event of several frames: the id numbers the last sequenced one', () => {
  const {ws, log, stream} = openXHR();
  ws.binaryType = 'arraybuffer';
  stream.chunk(ev(3, ['ta', 'h', 'tb', 'b3q2+7w==']) + ev(4, 'tc'));
  assert.deepEqual(log, ['open', 'message:a', 'message:b', 'message:[3q2+7w==]', 'message:c']);
  assert.equal(ws.readyState, 1);
});

test('EventSource: an event of several frames, duplicates skipped frame by frame', () => {
  const {ws, log, es} = openES();
  es.message('ta\ntb', 2);
  es.message('tb\ntc\nh\ntd', 4); // 3..4 after 2: b is frame 2 again... numbered 2..4
  es.message('td', 4);
  assert.deepEqual(log, ['open', 'message:a', 'message:b', 'message:c', 'message:d']);
  assert.equal(ws.readyState, 1);
});

test('an event of several frames ending with r opens the next stream after its frames', () => {
  const {h, log, stream} = openXHR();
  stream.chunk(ev(2, ['ta', 'tb', 'r']));
  assert.deepEqual(log, ['open', 'message:a', 'message:b']);
  assert.ok(stream.aborted);
  const next = h.lastXHR('/sse');
  assert.notEqual(next, stream);
  assert.equal(next.param('last'), '2');
});

test('EventSource: an event of several frames ending with r reconnects', () => {
  const {h, log, es} = openES();
  es.message('ta\nr', 1);
  assert.deepEqual(log, ['open', 'message:a']);
  assert.ok(es.closed);
  const next = h.sources[h.sources.length - 1];
  assert.notEqual(next, es);
  assert.equal(next.param('last'), '1');
});

test('an event of several frames after a gap resumes after the last processed frame', () => {
  const {h, log, stream} = openXHR();
  stream.chunk(ev(1, 'ta') + ev(4, ['tc', 'td']));
  assert.deepEqual(log, ['open', 'message:a']);
  assert.ok(stream.aborted);
  h.clock.tick(0);
  assert.equal(h.lastXHR('/sse').param('last'), '1');
});

test('an event of several frames whose id is too small is a protocol error', () => {
  const {ws, log, stream} = openXHR();
  stream.chunk(ev(1, ['ta', 'tb']));
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
  assert.equal(ws.readyState, 3);
});

test('a close frame inside an event of several frames is sequenced', () => {
  const {h, ws, log, stream} = openXHR();
  stream.chunk(ev(2, ['tbye', 'c1001 going']));
  assert.equal(ws.readyState, 2);
  const p = h.xhrs.filter((x) => x.path.endsWith('/send'));
  assert.equal(p[0].body, 'c1001');
  assert.equal(p[0].param('ack'), '2');
  p[0].respond(200, 'a1');
  assert.deepEqual(log, ['open', 'message:bye', 'close:1001:going:true']);
});

test('long-poll: a body of events of several frames', () => {
  const h = harness({ws: false});
  const ws = h.open('ws://example.com/echo', [], {transports: ['longpoll']});
  const log = record(ws);
  h.xhrs[0].respond(200, info());
  let poll = h.lastXHR('/poll');
  poll.respond(200, ev(2, ['ta', 'tb']) + ev(0, 'h') + ev(4, ['tc', 'h', 'td']));
  poll = h.lastXHR('/poll');
  assert.equal(poll.param('last'), '4');
  assert.deepEqual(log, ['open', 'message:a', 'message:b', 'message:c', 'message:d']);
  assert.equal(ws.readyState, 1);
});

test('many frames in one chunk: one pure acknowledgement', () => {
  const {h, stream} = openXHR();
  let batch = '';
  for (let i = 1; i <= 200; i++) {
    batch += ev(i, 't' + i);
  }
  stream.chunk(batch);
  const p = h.xhrs.filter((x) => x.path.endsWith('/send'));
  assert.equal(p.length, 1);
  p[0].respond(200, 'a0');
  const q = h.xhrs.filter((x) => x.path.endsWith('/send'));
  assert.equal(q.length, 2, 'the rest is acknowledged when the POST in flight is done');
  assert.equal(q[1].param('ack'), '200');
});

test('a server that sends windowMessages: pure acknowledgements after a quarter window or one second', () => {
  const {h, stream} = openXHR({}, {windowMessages: 400, windowBytes: 1000});
  stream.chunk(ev(1, 'ta') + ev(2, 'tb'));
  h.clock.tick(999);
  assert.equal(posts(h).length, 0, 'not before a second');
  h.clock.tick(1);
  assert.equal(posts(h).length, 1);
  assert.equal(posts(h)[0].param('ack'), '2');
  posts(h)[0].respond(200, 'a0');
  let batch = '';
  for (let i = 3; i <= 101; i++) { // 99 frames: one short of 400/4
    batch += ev(i, 't' + i);
  }
  stream.chunk(batch);
  assert.equal(posts(h).length, 1, '99 frames wait');
  stream.chunk(ev(102, 'tx'));
  assert.equal(posts(h).length, 2, 'the 100th goes at once');
  assert.equal(posts(h)[1].param('ack'), '102');
  posts(h)[1].respond(200, 'a0');
  stream.chunk(ev(103, 't' + 'x'.repeat(250))); // a quarter of windowBytes
  assert.equal(posts(h).length, 3);
  assert.equal(posts(h)[2].param('ack'), '103');
});

test('websocket, a server that sends windowMessages: acknowledgements after a quarter window or one second', () => {
  const h = harness({});
  h.open('ws://example.com/echo', [], {transports: ['websocket']});
  const s = h.sockets[0];
  s.accept();
  s.control('o' + info({windowMessages: 8}));
  const acks = () => s.sentText().filter((t) => t.startsWith('\u0001a'));
  s.message('m1');
  h.clock.tick(999);
  assert.deepEqual(acks(), []);
  h.clock.tick(1);
  assert.deepEqual(acks(), ['\u0001a1']);
  s.message('m2');
  assert.deepEqual(acks(), ['\u0001a1'], 'one short of 8/4');
  s.message('m3');
  assert.deepEqual(acks(), ['\u0001a1', '\u0001a3']);
});

// The watchdog: heartbeatMs 25000, so a carrier silent for 55 s is dropped,
// and noticed within a quarter of that more.
for (const kind of ['xhr', 'eventsource', 'websocket']) {
  test(`${kind}: a busy stream is never dropped; a silent one after 55 to 68.75 s`, () => {
    let h, feed, current;
    if (kind === 'websocket') {
      h = harness({});
      h.open('ws://example.com/echo', [], {transports: ['websocket']});
      const s = h.sockets[0];
      s.accept();
      s.control('o' + info());
      let n = 0;
      feed = () => s.message('m' + ++n);
      current = () => h.sockets.length === 1 && !s.closed;
    } else if (kind === 'xhr') {
      const o = openXHR();
      h = o.h;
      let n = 0;
      feed = () => o.stream.chunk(ev(++n, 'tm'));
      current = () => !o.stream.aborted;
    } else {
      const o = openES();
      h = o.h;
      let n = 0;
      feed = () => o.es.message('tm', ++n);
      current = () => !o.es.closed;
    }
    const answer = () => h.xhrs.filter((x) => x.path.endsWith('/send') && !x.done).forEach((x) => x.respond(200, 'a0'));
    for (let i = 0; i < 200; i++) { // 200 s of one message a second
      feed();
      h.clock.tick(1000);
      answer();
      assert.ok(current(), `dropped at ${i} s while busy`);
    }
    feed();
    h.clock.tick(55000 - 1);
    assert.ok(current(), 'dropped before 55 s of silence');
    h.clock.tick(68750 - 55000 + 1);
    assert.ok(!current(), 'still up after 68.75 s of silence');
  });
}

test('websocket: binary messages arrive as ArrayBuffers of their own', () => {
  const h = harness({});
  const ws = h.open('ws://example.com/echo', [], {transports: ['websocket']});
  ws.binaryType = 'arraybuffer';
  const got = [];
  ws.onmessage = (e) => got.push(e.data);
  const s = h.sockets[0];
  s.accept();
  s.control('o' + info());
  const u = new Uint8Array([0, 1, 2, 3]);
  s.message(u.buffer);
  assert.equal(got.length, 1);
  assert.ok(got[0] instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(got[0])], [1, 2, 3]);
  u[1] = 9;
  assert.deepEqual([...new Uint8Array(got[0])], [1, 2, 3], 'a copy');
});

test('SSE: binary messages arrive as ArrayBuffers of exactly their bytes', () => {
  const {ws, stream} = openXHR();
  ws.binaryType = 'arraybuffer';
  const got = [];
  ws.onmessage = (e) => got.push(e.data);
  stream.chunk(ev(1, 'b' + Buffer.from([5, 6, 7, 8, 9]).toString('base64')) + ev(2, 'b'));
  assert.equal(got.length, 2);
  assert.equal(got[0].byteLength, 5);
  assert.deepEqual([...new Uint8Array(got[0])], [5, 6, 7, 8, 9]);
  assert.equal(got[1].byteLength, 0);
});
