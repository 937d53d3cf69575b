'use strict';

// Sequencing, acknowledgement, batching, retry, negotiation, fallback and
// resume, with the fakes driven by hand (and FakeServer where a whole
// conversation is simpler).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const {harness, record, FakeServer} = require('./helpers');

const SID = 'r1W0x3i0Zm8yQ0b9N4q5aA';

function info(extra = {}) {
  return JSON.stringify(Object.assign({
    v: 1, session: SID, protocol: '', transports: ['websocket', 'sse', 'longpoll'], heartbeatMs: 25000,
    resumeTimeoutMs: 30000, maxMessageBytes: 16777216, maxBodyBytes: 22373716, windowBytes: 1048576, ack: 0
  }, extra));
}

const PRELUDE = ':' + ' '.repeat(2048) + '\n\nretry: 1000\n';

function ev(id, data) {
  return (id ? `id: ${id}\n` : '') + `data: ${data}\n\n`;
}

// openSSE opens a socket over SSE with XHR streaming and hand-driven XHRs.
function openSSE(o = {}) {
  const h = harness(Object.assign({ws: false}, o.env));
  const ws = h.open('ws://example.com/echo', [], Object.assign({transports: ['sse']}, o.options));
  const log = record(ws);
  const open = h.xhrs[0];
  assert.equal(open.method, 'POST');
  assert.equal(open.path, '/echo/.ferry/open');
  open.respond(200, info(o.info));
  const stream = h.lastXHR('/sse');
  assert.equal(stream.param('last'), '0');
  stream.chunk(PRELUDE + ev(0, 'o' + info(o.info)));
  return {h, ws, log, stream};
}

function posts(h) {
  return h.xhrs.filter((x) => x.path.endsWith('/send'));
}

test('upstream: one POST in flight; messages queued meanwhile go in the next POST', () => {
  const {h, ws} = openSSE();
  ws.send('a');
  ws.send('b\nc');
  let p = posts(h);
  assert.equal(p.length, 1);
  assert.equal(p[0].param('seq'), '1');
  assert.equal(p[0].body, 'ta');
  assert.equal(p[0].headers['Content-Type'], 'text/plain;charset=UTF-8');
  ws.send(new Uint8Array([0, 255]));
  assert.equal(posts(h).length, 1, 'still one in flight');
  p[0].respond(200, 'a1');
  p = posts(h);
  assert.equal(p.length, 2);
  assert.equal(p[1].param('seq'), '2');
  assert.equal(p[1].body, 'tb\\nc\nbAP8=');
  assert.equal(ws.bufferedAmount, 5);
  p[1].respond(200, 'a3');
  assert.equal(ws.bufferedAmount, 0);
  assert.equal(posts(h).length, 2);
});

test('upstream: sends made in one task go up in one POST, even with none in flight', () => {
  const micro = [];
  const {h, ws} = openSSE({env: {queueMicrotask: (fn) => micro.push(fn)}});
  for (let i = 0; i < 100; i++) {
    ws.send('m' + i);
  }
  assert.equal(posts(h).length, 0, 'nothing goes before the task ends');
  assert.equal(ws.bufferedAmount, 290);
  assert.equal(micro.length, 1, 'one deferred pump for the whole loop');
  micro.shift()();
  const p = posts(h);
  assert.equal(p.length, 1);
  assert.equal(p[0].param('seq'), '1');
  assert.equal(p[0].body.split('\n').length, 100);
  p[0].respond(200, 'a100');
  assert.equal(ws.bufferedAmount, 0);
  ws.close(1000);
  assert.equal(posts(h).length, 2, 'a close goes at once, not after the task');
});

test('upstream: a failed POST is retried with the same seq after a backoff, plus newer frames', () => {
  const {h, ws} = openSSE();
  ws.send('one');
  ws.send('two');
  posts(h)[0].fail();
  assert.equal(posts(h).length, 1, 'no retry before the backoff');
  ws.send('three');
  h.clock.tick(300);
  let p = posts(h);
  assert.equal(p.length, 2);
  assert.equal(p[1].param('seq'), '1');
  assert.equal(p[1].body, 'tone\nttwo\ntthree');
  p[1].respond(503, 'ferry: busy');
  h.clock.tick(600);
  p = posts(h);
  assert.equal(p.length, 3);
  assert.equal(p[2].param('seq'), '1');
  p[2].respond(200, 'a2'); // the server kept only part of it
  p = posts(h);
  assert.equal(p.length, 4);
  assert.equal(p[3].param('seq'), '3');
  assert.equal(p[3].body, 'tthree');
  assert.equal(ws.bufferedAmount, 5);
});

test('upstream: batches are capped by maxBatchBytes, one frame at least', () => {
  const {h, ws} = openSSE({options: {maxBatchBytes: 10}});
  ws.send('0123456789abc'); // alone, over the cap
  ws.send('aaa');
  ws.send('bbb');
  ws.send('ccc');
  posts(h)[0].respond(200, 'a1');
  let p = posts(h);
  assert.equal(p[1].body, 'taaa\ntbbb');
  p[1].respond(200, 'a3');
  p = posts(h);
  assert.equal(p[2].body, 'tccc');
  assert.equal(p[2].param('seq'), '4');
});

test('upstream: batches stay within the server\'s maxBodyFrames', () => {
  const {h, ws} = openSSE({info: {maxBodyFrames: 3}});
  for (let i = 0; i < 8; i++) {
    ws.send('');
  }
  assert.equal(posts(h)[0].body, 't');
  posts(h)[0].respond(200, 'a1');
  let p = posts(h);
  assert.equal(p[1].body, 't\nt\nt');
  p[1].respond(200, 'a4');
  p = posts(h);
  assert.equal(p[2].body, 't\nt\nt');
  assert.equal(p[2].param('seq'), '5');
});

test('upstream: a POST timing out is retried', () => {
  const {h, ws} = openSSE({options: {requestTimeout: 1000}});
  ws.send('x');
  h.clock.tick(1000);
  assert.ok(posts(h)[0].aborted);
  h.clock.tick(300);
  assert.equal(posts(h).length, 2);
  assert.equal(posts(h)[1].param('seq'), '1');
});

test('downstream: duplicates are discarded by sequence number', () => {
  const {ws, log, stream} = openSSE();
  stream.chunk(ev(1, 'tone') + ev(2, 'ttwo') + ev(1, 'tone') + ev(2, 'ttwo') + ev(3, 'tthree'));
  assert.deepEqual(log, ['open', 'message:one', 'message:two', 'message:three']);
  assert.equal(ws.readyState, 1);
});

test('downstream: a gap drops the stream and resumes after the last processed frame', () => {
  const {h, log, stream} = openSSE();
  stream.chunk(ev(1, 'tone') + ev(3, 'tthree'));
  assert.ok(stream.aborted);
  assert.deepEqual(log, ['open', 'message:one']);
  h.clock.tick(0);
  const next = h.lastXHR('/sse');
  assert.notEqual(next, stream);
  assert.equal(next.param('last'), '1');
});

test('downstream: pure acknowledgements after 250 ms, or at once after 64 frames', () => {
  const {h, stream} = openSSE();
  stream.chunk(ev(1, 'ta') + ev(2, 'tb'));
  assert.equal(posts(h).length, 0);
  h.clock.tick(250);
  let p = posts(h);
  assert.equal(p.length, 1);
  assert.equal(p[0].param('ack'), '2');
  assert.equal(p[0].param('seq'), null);
  assert.equal(p[0].body, '');
  p[0].respond(200, 'a0');
  let batch = '';
  for (let i = 3; i <= 66; i++) {
    batch += ev(i, 't' + i);
  }
  stream.chunk(batch);
  p = posts(h);
  assert.equal(p.length, 2, 'acknowledged without waiting');
  assert.equal(p[1].param('ack'), '66');
});

test('downstream: acks ride on message POSTs and on reconnects', () => {
  const {h, ws, stream} = openSSE();
  stream.chunk(ev(1, 'ta'));
  ws.send('x');
  assert.equal(posts(h)[0].param('ack'), '1');
  posts(h)[0].respond(200, 'a1');
  h.clock.tick(1000);
  assert.equal(posts(h).length, 1, 'no pure ack needed');
  stream.chunk(ev(2, 'tb') + ev(0, 'r'));
  const next = h.lastXHR('/sse');
  assert.notEqual(next, stream, 'reconnect frame: next stream at once');
  assert.equal(next.param('last'), '2');
  next.chunk(PRELUDE + ev(0, 'o' + info({ack: 1})));
  h.clock.tick(1000);
  assert.equal(posts(h).length, 1, 'the new stream acknowledged frame 2');
});

test('downstream: an event stream that ends is reopened at once', () => {
  const {h, stream} = openSSE();
  stream.chunk(ev(1, 'ta'));
  stream.end();
  const next = h.lastXHR('/sse');
  assert.notEqual(next, stream);
  assert.equal(next.param('last'), '1');
});

test('server acknowledgements in the event stream lower bufferedAmount', () => {
  const {h, ws, stream} = openSSE();
  ws.send('hello');
  assert.equal(ws.bufferedAmount, 5);
  stream.chunk(ev(0, 'a1'));
  assert.equal(ws.bufferedAmount, 0);
  posts(h)[0].respond(200, 'a1');
  assert.equal(ws.bufferedAmount, 0);
});

test('longpoll: each poll acknowledges with last=N; no pure acks', () => {
  const h = harness({ws: false});
  const ws = h.open('ws://example.com/echo', [], {transports: ['longpoll']});
  const log = record(ws);
  h.xhrs[0].respond(200, info());
  let poll = h.lastXHR('/poll');
  assert.equal(poll.param('last'), '0');
  poll.respond(200, ev(1, 'ta') + ev(2, 'b3q2+7w=='));
  poll = h.lastXHR('/poll');
  assert.equal(poll.param('last'), '2');
  poll.respond(200, ev(0, 'h'));
  poll = h.lastXHR('/poll');
  assert.equal(poll.param('last'), '2');
  poll.respond(200, ev(2, 'b3q2+7w==') + ev(3, 'tc'));
  assert.deepEqual(log, ['open', 'message:a', 'message:[blob]', 'message:c']);
  h.clock.tick(5000);
  assert.equal(posts(h).length, 0);
});

test('negotiation: a refused WebSocket falls back to SSE', () => {
  const h = harness({es: true});
  const server = new FakeServer(h);
  server.refuseWS = true;
  const ws = h.open();
  const log = record(ws);
  h.clock.tick(50);
  assert.deepEqual(log, ['open']);
  assert.equal(ws.transport, 'sse');
  assert.deepEqual(server.requests.map(([m, p]) => m + ' ' + p.replace(/\?.*/, '')), [
    'WS /echo/.ferry/ws', 'POST /echo/.ferry/open', 'GET /echo/.ferry/s1xxxxxxxxxxxxxxxxxxxx/sse'
  ]);
});

test('negotiation: a hanging upgrade times out after connectTimeout; late callbacks are ignored', () => {
  const h = harness();
  const server = new FakeServer(h);
  server.hangWS = true;
  const ws = h.open('ws://example.com/echo', [], {connectTimeout: 4000});
  const log = record(ws);
  h.clock.tick(3999);
  assert.deepEqual(log, []);
  h.clock.tick(100);
  assert.deepEqual(log, ['open']);
  assert.equal(ws.transport, 'sse');
  const stale = h.sockets[0];
  assert.ok(stale.closed, 'the abandoned WebSocket is closed');
  stale.readyState = 1; // it opens after all, and talks: nothing happens
  stale.control('o' + info({session: 'other'}));
  stale.message('ghost');
  h.clock.tick(100);
  assert.deepEqual(log, ['open']);
  assert.equal(ws.transport, 'sse');
});

test('negotiation: an opened WebSocket that drops resumes the session, it does not fall back', () => {
  const h = harness();
  const server = new FakeServer(h);
  const ws = h.open();
  const log = record(ws);
  h.clock.tick(50);
  h.sockets[0].drop();
  h.clock.tick(50);
  assert.equal(server.sessions.size, 1);
  assert.equal(h.sockets.length, 2);
  assert.match(h.sockets[1].url, /\/echo\/\.ferry\/s1x+\/ws\?v=1&last=0$/);
  assert.deepEqual(h.sockets[1].protocols, [], 'a resume offers no subprotocols');
  assert.equal(ws.transport, 'websocket');
  ws.send('still here');
  h.clock.tick(50);
  assert.deepEqual(log, ['open', 'message:still here']);
});

test('WebSocket resume resends unacknowledged frames from the server ack + 1', () => {
  const h = harness();
  const ws = h.open();
  const first = h.sockets[0];
  first.accept();
  first.control('o' + info());
  ws.send('x');
  ws.send('y');
  ws.send(new Uint8Array([7]));
  assert.deepEqual(first.sentText(), ['x', 'y', '\u0000Bw==']);
  first.control('a1');
  assert.equal(ws.bufferedAmount, 2);
  first.drop();
  h.clock.tick(0);
  const second = h.sockets[1];
  assert.match(second.url, /\/ws\?v=1&last=0$/);
  second.accept();
  ws.send('z'); // queued until "o"
  assert.deepEqual(second.sent, []);
  second.control('o' + info({ack: 2}));
  assert.deepEqual(second.sentText(), ['\u0000Bw==', 'z']);
  assert.equal(ws.bufferedAmount, 2);
  second.control('a4');
  assert.equal(ws.bufferedAmount, 0);
});

test('WebSocket: upstream stays within the server credit (inboundBytes) until acks free it', () => {
  const h = harness();
  const ws = h.open();
  const first = h.sockets[0];
  first.accept();
  first.control('o' + info({inboundBytes: 2 * (4 + 64) + 2}));
  for (const m of ['aaaa', 'bbbb', 'cccc', 'dddd']) {
    ws.send(m);
  }
  // Two messages in flight (4 bytes + 64 overhead each); a third would pass the credit.
  assert.deepEqual(first.sentText(), ['aaaa', 'bbbb']);
  assert.equal(ws.bufferedAmount, 16);
  first.control('a1');
  assert.deepEqual(first.sentText(), ['aaaa', 'bbbb', 'cccc']);
  first.control('a3');
  assert.deepEqual(first.sentText(), ['aaaa', 'bbbb', 'cccc', 'dddd']);
  // A message larger than the credit goes alone once nothing is in flight.
  first.control('a4');
  ws.send('x'.repeat(300));
  assert.equal(first.sentText().length, 5);
});

test('WebSocket: frames acknowledged over another path are skipped with an "n" frame, not renumbered', () => {
  // The server numbers frames on a Ferry WebSocket by their order. When it
  // acknowledges frames this connection never carried (a POST, or the
  // connection before, delivered them), the client must restate the
  // number of its next frame before sending it.
  const h = harness();
  const ws = h.open();
  const first = h.sockets[0];
  first.accept();
  first.control('o' + info({inboundBytes: 2 * (4 + 64) + 2}));
  for (const m of ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee']) {
    ws.send(m);
  }
  assert.deepEqual(first.sentText(), ['aaaa', 'bbbb']);
  first.control('a3'); // 3 arrived elsewhere; 4 is next, this connection carried 2
  assert.deepEqual(first.sentText(), ['aaaa', 'bbbb', '\u0001n4', 'dddd', 'eeee']);
  assert.equal(ws.bufferedAmount, 8);
  first.control('a5');
  assert.equal(ws.bufferedAmount, 0);
  // Everything acknowledged: the next frame follows in order, no "n".
  ws.send('ffff');
  assert.deepEqual(first.sentText().slice(5), ['ffff']);
});

test('WebSocket: a POST answered before the next WebSocket\'s "o" (with an older ack) is skipped with "n"', () => {
  // Between two WebSockets the client POSTs. The server takes the new
  // WebSocket's "o" (ack 1) before it reads that POST, but the POST's
  // answer (a3) reaches the client first: the WebSocket must say that its
  // next frame is 4, or the server would number it 2.
  const h = harness();
  const ws = h.open();
  const first = h.sockets[0];
  first.accept();
  first.control('o' + info());
  ws.send('one');
  first.control('a1');
  first.drop();
  ws.send('two');
  ws.send('three');
  const post = posts(h)[0];
  assert.ok(post, 'a POST between carriers');
  assert.equal(post.param('seq'), '2');
  h.clock.tick(1000);
  const second = h.sockets[1];
  assert.ok(second, 'a second WebSocket');
  second.accept();
  post.respond(200, 'a3');
  ws.send('four');
  second.control('o' + info({ack: 1}));
  assert.deepEqual(second.sentText(), ['\u0001n4', 'four']);
  second.control('a4');
  assert.equal(ws.bufferedAmount, 0);
});

test('WebSocket: an "n" frame from the server renumbers downstream; one going back is a protocol error', () => {
  const h = harness();
  const ws = h.open();
  const log = record(ws);
  const first = h.sockets[0];
  first.accept();
  first.control('o' + info());
  first.message('one');
  first.control('n2'); // restates the number it would have anyway
  first.message('two');
  first.control('n2'); // goes back
  assert.deepEqual(log.slice(0, 3), ['open', 'message:one', 'message:two']);
  assert.ok(log.some((e) => e.startsWith('close:1006')), log.join(' '));
});

test('WebSocket: downstream frames are numbered from last+1 and acknowledged within 20 ms', () => {
  const h = harness();
  const ws = h.open();
  const log = record(ws);
  const first = h.sockets[0];
  first.accept();
  first.control('o' + info());
  first.message('one');
  first.message('two');
  h.clock.tick(20);
  assert.deepEqual(first.sentText(), ['\u0001a2']);
  first.drop();
  h.clock.tick(0);
  const second = h.sockets[1];
  assert.match(second.url, /last=2$/);
  second.accept();
  second.control('o' + info({ack: 0}));
  second.message('three');
  assert.deepEqual(log, ['open', 'message:one', 'message:two', 'message:three']);
});

test('WebSocket drop resumes on SSE with no close event and nothing lost', () => {
  const h = harness({es: true});
  const server = new FakeServer(h);
  const ws = h.open();
  const log = record(ws);
  h.clock.tick(50);
  ws.send('before');
  h.clock.tick(50);
  server.refuseWS = true;
  const s = server.only();
  h.sockets[0].drop();
  ws.send('during'); // queued while no carrier is up
  server.push(s, {kind: 't', data: 'pushed'}); // retained by the server
  h.clock.tick(2000);
  assert.equal(ws.transport, 'sse');
  assert.equal(ws.readyState, 1);
  ws.send('after');
  h.clock.tick(500);
  assert.deepEqual(log, ['open', 'message:before', 'message:pushed', 'message:during', 'message:after']);
  assert.deepEqual(s.got.map((f) => f.data), ['before', 'during', 'after']);
  assert.equal(server.sessions.size, 1);
});

test('buffering proxy: no "o" event within firstEventTimeout switches the same session to long-poll', () => {
  const h = harness({ws: false});
  const server = new FakeServer(h);
  server.buffering = true;
  const ws = h.open('ws://example.com/echo', [], {firstEventTimeout: 3000});
  const log = record(ws);
  h.clock.tick(50);
  assert.deepEqual(log, ['open'], 'the session is open once POST open answers');
  assert.equal(ws.transport, 'sse');
  const s = server.only();
  ws.send('up while buffered');
  server.push(s, {kind: 't', data: 'down while buffered'});
  h.clock.tick(2900);
  assert.deepEqual(log, ['open', 'message:up while buffered'].slice(0, 1), 'nothing comes through the buffered stream');
  h.clock.tick(200);
  h.clock.tick(50);
  assert.equal(ws.transport, 'longpoll');
  assert.equal(server.sessions.size, 1, 'the same session');
  h.clock.tick(1500);
  assert.deepEqual(log, ['open', 'message:down while buffered', 'message:up while buffered']);
  assert.equal(h.store.get('ferry.transport:example.com'), 'longpoll');
  const polls = server.requests.filter(([, p]) => p.includes('/poll'));
  assert.match(polls[0][1], /last=0$/);
});

test('the remembered transport is tried first next time', () => {
  const h = harness({ws: true});
  h.store.set('ferry.transport:example.com', 'longpoll');
  const server = new FakeServer(h);
  const ws = h.open();
  h.clock.tick(50);
  assert.equal(ws.transport, 'longpoll');
  assert.ok(server.requests.every(([m]) => m !== 'WS'));
  const other = harness({ws: true});
  other.store.set('ferry.transport:example.com', 'longpoll');
  new FakeServer(other);
  const ws2 = other.open('ws://example.com/echo', [], {remember: false});
  other.clock.tick(50);
  assert.equal(ws2.transport, 'websocket');
});

test('resume failure: after resumeTimeoutMs, error then close 1006, wasClean false', () => {
  const h = harness();
  const server = new FakeServer(h, {resumeTimeoutMs: 10000});
  const ws = h.open();
  const log = record(ws);
  h.clock.tick(50);
  server.refuseWS = true;
  server.buffering = true; // SSE never delivers
  server.failPolls = true;
  h.sockets[0].drop();
  h.clock.tick(9000);
  assert.deepEqual(log, ['open']);
  assert.equal(ws.readyState, 1);
  h.clock.tick(1100);
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
  assert.equal(ws.readyState, 3);
  const n = h.sockets.length + h.xhrs.length;
  h.clock.tick(60000);
  assert.equal(h.sockets.length + h.xhrs.length, n, 'no more attempts');
});

test('a 404 on resume ends the session with 1006 at once', () => {
  const h = harness({ws: false});
  const server = new FakeServer(h);
  const ws = h.open('ws://example.com/echo', [], {transports: ['sse']});
  const log = record(ws);
  h.clock.tick(50);
  const s = server.only();
  server.forget(s); // ends the stream; the next request gets 404
  h.clock.tick(50);
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
});

test('a WebSocket resume refused for a forgotten session is probed: 404 gives 1006', () => {
  const h = harness();
  const server = new FakeServer(h);
  const ws = h.open('ws://example.com/echo', [], {transports: ['websocket']});
  const log = record(ws);
  h.clock.tick(50);
  server.forget(server.only());
  h.sockets[0].drop();
  h.clock.tick(100);
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
});

test('a 404 on a send POST ends the session with 1006', () => {
  const {h, ws, log} = openSSE();
  ws.send('x');
  posts(h)[0].respond(404, 'ferry: session not found\n');
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
});

test('resume outside the retention window: close 4010 from the server', () => {
  const {h, log, stream} = openSSE();
  stream.chunk(ev(1, 'ta'));
  stream.fail();
  h.clock.tick(0);
  const next = h.lastXHR('/sse');
  next.chunk(ev(0, 'c4010 resume outside retention window'));
  assert.deepEqual(log, ['open', 'message:a', 'error', 'close:4010:resume outside retention window:false']);
});

test('server close over SSE: CLOSING, echo the code with the ack, then close', () => {
  const {h, ws, log, stream} = openSSE();
  stream.chunk(ev(1, 'tbye') + ev(2, 'c1001 shutting down'));
  assert.equal(ws.readyState, 2);
  assert.ok(stream.aborted, 'no more downstream after the close');
  const p = posts(h);
  assert.equal(p.length, 1);
  assert.equal(p[0].body, 'c1001');
  assert.equal(p[0].param('ack'), '2');
  ws.send('ignored');
  p[0].respond(200, 'a1');
  assert.deepEqual(log, ['open', 'message:bye', 'close:1001:shutting down:true']);
  h.clock.tick(60000);
  assert.equal(posts(h).length, 1, 'nothing more to send');
});

test('client close over SSE: the last acknowledgement follows the server close', () => {
  const {h, ws, log, stream} = openSSE();
  ws.close(1000, 'done');
  let p = posts(h);
  assert.equal(p[0].body, 'c1000 done');
  stream.chunk(ev(1, 'tlate') + ev(2, 'c1000'));
  assert.deepEqual(log, ['open'], 'waits for our close to be delivered');
  p[0].respond(200, 'a1');
  assert.deepEqual(log, ['open', 'close:1000::true'], 'messages after close() are not delivered');
  p = posts(h);
  assert.equal(p.length, 2);
  assert.equal(p[1].param('ack'), '2');
  assert.equal(p[1].body, '');
});

test('a malformed frame from the server fails the session with 1006', () => {
  const {log, stream} = openSSE();
  stream.chunk(ev(1, 'tbad\\escape'));
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
});

test('XHR-only environment: no WebSocket, EventSource, TextEncoder, Blob, URL, EventTarget', () => {
  const h = harness({
    ws: false, es: false, TextEncoder: null, TextDecoder: null, Blob: null, FileReader: null, URL: null,
    EventTarget: null, Event: null, MessageEvent: null, CloseEvent: null, DOMException: null,
    sessionStorage: null
  });
  new FakeServer(h);
  const ws = h.open();
  const got = [];
  ws.onmessage = (e) => got.push(e.data);
  h.clock.tick(50);
  assert.equal(ws.transport, 'sse');
  ws.send('caf\u00e9 \ud83d\ude00');
  ws.send(new Uint8Array([1, 2]));
  h.clock.tick(500);
  assert.equal(got[0], 'caf\u00e9 \ud83d\ude00');
  assert.ok(got[1] instanceof ArrayBuffer, 'binary as ArrayBuffer when Blob is missing');
});

test('client.js runs as a browser script where only XMLHttpRequest and timers exist', () => {
  const h = harness({ws: false});
  const server = new FakeServer(h);
  const src = fs.readFileSync(path.join(__dirname, '..', 'client.js'), 'utf8');
  const sandbox = {
    XMLHttpRequest: h.FakeXHR, setTimeout: h.clock.setTimeout, clearTimeout: h.clock.clearTimeout,
    location: {href: 'http://example.com/app/'}, out: []
  };
  vm.createContext(sandbox);
  vm.runInContext('delete globalThis.Promise; delete globalThis.Reflect; delete globalThis.Proxy;', sandbox);
  vm.runInContext(src, sandbox, {filename: 'client.js'});
  vm.runInContext(`
    var ws = new Ferry.WebSocket('/echo');
    ws.onopen = function () { out.push('open:' + ws.transport); ws.send('hi'); };
    ws.onmessage = function (e) { out.push('message:' + e.data); ws.close(); };
    ws.onclose = function (e) { out.push('close:' + e.code + ':' + e.wasClean); };
    Ferry.install();
    out.push(WebSocket === Ferry.WebSocket ? 'installed' : 'not installed');
  `, sandbox);
  h.clock.tick(1000);
  assert.deepEqual(sandbox.out, ['installed', 'open:sse', 'message:hi', 'close:1005:true']);
  assert.equal(server.only().closeGot.code, 1005);
});

test('the server transport list restricts carriers', () => {
  const h = harness({ws: false});
  const server = new FakeServer(h, {transports: ['longpoll']});
  const ws = h.open();
  h.clock.tick(50);
  assert.equal(ws.transport, 'longpoll');
  assert.ok(server.requests.every(([, p]) => !p.includes('/sse')));
});

test('the app query string travels with the session-creating requests', () => {
  const h = harness();
  const server = new FakeServer(h);
  server.refuseWS = true;
  h.open('ws://example.com/echo/?token=abc', ['p']);
  h.clock.tick(50);
  assert.equal(server.requests[0][1], '/echo/.ferry/ws?v=1&token=abc');
  assert.equal(server.requests[1][1], '/echo/.ferry/open?v=1&protocols=p&transport=sse&token=abc');
});

test('a 413 on send stops the upstream; the server close that follows ends the session', () => {
  const {h, ws, log, stream} = openSSE();
  ws.send('too big');
  posts(h)[0].respond(413, 'ferry: request body too large\n');
  ws.send('more');
  assert.equal(posts(h).length, 1, 'nothing more is sent');
  stream.chunk(ev(1, 'c1009 message too big'));
  assert.deepEqual(log, ['open', 'close:1009:message too big:true']);
});

test('a 400 on send with no close from the server ends in 1006 after resumeTimeoutMs', () => {
  const {h, ws, log} = openSSE({info: {resumeTimeoutMs: 5000}});
  ws.send('x');
  posts(h)[0].respond(400, 'ferry: malformed frame\n');
  h.clock.tick(4999);
  assert.deepEqual(log, ['open']);
  h.clock.tick(1);
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
});

test('a 409 on send (the server lost frames it acknowledged) ends in 1006', () => {
  const {h, ws, log} = openSSE();
  ws.send('x');
  posts(h)[0].respond(409, 'ferry: seq gap\n');
  assert.deepEqual(log, ['open', 'error', 'close:1006::false']);
});

test('EventSource refused by the server: a probe POST finds the session gone', () => {
  const h = harness({ws: false, es: true});
  const ws = h.open('ws://example.com/echo', [], {transports: ['sse']});
  const log = record(ws);
  h.xhrs[0].respond(200, info());
  const es = h.sources[0];
  assert.match(es.url, /\/echo\/\.ferry\/r1W0x3i0Zm8yQ0b9N4q5aA\/sse\?last=0$/);
  es.message('o' + info());
  es.message('tfirst', 1);
  es.error(true); // CLOSED: an error status, which EventSource cannot show
  assert.ok(es.closed);
  const probe = posts(h)[0];
  assert.equal(probe.body, '');
  assert.equal(probe.param('ack'), '1');
  probe.respond(404, 'ferry: session not found\n');
  assert.deepEqual(log, ['open', 'message:first', 'error', 'close:1006::false']);
});

test('EventSource reconnects itself are not used: a dropped stream resumes with last=N', () => {
  const h = harness({ws: false, es: true});
  const ws = h.open('ws://example.com/echo', [], {transports: ['sse']});
  const log = record(ws);
  h.xhrs[0].respond(200, info());
  const es = h.sources[0];
  es.message('o' + info());
  es.message('ta', 1);
  es.message('tb', 2);
  es.error(false); // CONNECTING: a network drop
  assert.ok(es.closed, 'the automatic reconnect is cancelled');
  h.clock.tick(0);
  const next = h.sources[1];
  assert.match(next.url, /last=2$/);
  next.message('o' + info());
  next.message('tb', 2); // a frame that reached both streams
  next.message('tc', 3);
  assert.deepEqual(log, ['open', 'message:a', 'message:b', 'message:c']);
  assert.equal(posts(h).length, 0, 'no probe for a plain drop');
});

test('negotiation: websocket, then sse, then longpoll, each only because the one before never opened', () => {
  const h = harness();
  const server = new FakeServer(h);
  server.refuseWS = true;
  server.failOpens = 1; // the POST open of the sse attempt fails
  const ws = h.open();
  const log = record(ws);
  h.clock.tick(50);
  assert.deepEqual(log, ['open']);
  assert.equal(ws.transport, 'longpoll');
  assert.deepEqual(server.requests.map(([m, p]) => m + ' ' + p.replace(/s1x+/, 'S').replace(/\?.*/, '')), [
    'WS /echo/.ferry/ws', 'POST /echo/.ferry/open', 'POST /echo/.ferry/open', 'GET /echo/.ferry/S/poll'
  ]);
  ws.send('ok');
  h.clock.tick(50);
  assert.deepEqual(log, ['open', 'message:ok']);
});
