'use strict';

// Client-side MUSTs of docs/PROTOCOL.md that a server cannot observe, named
// by docs/conformance/rules.json: the session id stays in request paths,
// unknown members of the open information are ignored, and a client that
// only reads can hold a whole retention window unacknowledged.

const test = require('node:test');
const assert = require('node:assert/strict');
const {harness, record} = require('./helpers');

const SID = 'r1W0x3i0Zm8yQ0b9N4q5aA';

function info(extra = {}) {
  return JSON.stringify(Object.assign({
    v: 1, session: SID, protocol: '', transports: ['websocket', 'sse', 'longpoll'], heartbeatMs: 25000,
    resumeTimeoutMs: 30000, maxMessageBytes: 16777216, maxBodyBytes: 22373716, windowBytes: 1048576,
    inboundBytes: 1048576, ack: 0
  }, extra));
}

const PRELUDE = ':' + ' '.repeat(2048) + '\n\nretry: 1000\n';

test('rules: unknown members of the open information are ignored, on open and in the o frame', () => {
  const future = {futureLimit: 7, futureMode: {nested: [1, 2]}, transportsV2: null};
  const h = harness({ws: false});
  const ws = h.open('ws://example.com/echo', [], {transports: ['sse']});
  const log = record(ws);
  h.xhrs[0].respond(200, info(future));
  const stream = h.lastXHR('/sse');
  stream.chunk(PRELUDE + 'data: o' + info(future) + '\n\nid: 1\ndata: thello\n\n');
  assert.deepEqual(log, ['open', 'message:hello']);

  const h2 = harness();
  const ws2 = h2.open();
  const log2 = record(ws2);
  const sock = h2.sockets[0];
  sock.accept();
  sock.control('o' + info(future));
  sock.message('hi');
  assert.deepEqual(log2, ['open', 'message:hi']);
});

test('rules: the session id travels only in request paths under the service URL, never in a query', () => {
  const h = harness({ws: false});
  const ws = h.open('ws://example.com/echo?token=abc', [], {transports: ['sse']});
  h.xhrs[0].respond(200, info());
  h.lastXHR('/sse').chunk(PRELUDE + 'data: o' + info() + '\n\n');
  ws.send('x');
  h.clock.tick(10);
  const withSID = h.xhrs.filter((x) => x.url.includes(SID));
  assert.ok(withSID.length >= 2, 'the event stream and a send carry the session id');
  for (const x of withSID) {
    assert.equal(x.u.host, 'example.com');
    assert.ok(x.path.startsWith(`/echo/.ferry/${SID}/`), x.url);
    assert.ok(!x.u.search.includes(SID), x.url);
  }
});

test('rules: a client that only reads holds a whole window (windowBytes) unacknowledged', () => {
  const h = harness();
  const ws = h.open();
  let received = 0;
  ws.onmessage = (e) => {
    received += e.data.length;
  };
  const sock = h.sockets[0];
  sock.accept();
  sock.control('o' + info());
  const chunk = 'x'.repeat(64 << 10);
  for (let i = 0; i < 16; i++) {
    sock.message(chunk);
  }
  assert.equal(received, 1048576);
  assert.equal(ws.readyState, 1);
});
