'use strict';

// One echo suite, run against every transport (and both ways of reading
// an event stream), through FakeServer.

const test = require('node:test');
const assert = require('node:assert/strict');
const {harness, record, FakeServer} = require('./helpers');

const CARRIERS = [
  {name: 'websocket', transports: ['websocket'], env: {}},
  {name: 'sse (EventSource)', transports: ['sse'], env: {es: true}},
  {name: 'sse (XHR streaming)', transports: ['sse'], env: {es: false}},
  {name: 'sse (fetch streaming)', transports: ['sse'], env: {es: false, fetch: true}},
  {name: 'longpoll', transports: ['longpoll'], env: {}}
];

const TEXTS = ['', 'hello', '\r', '\r\n', '\n\n', 'a\rb\nc\r\nd', 'data: x', 'id: 3', ':comment',
  '\u0000', '\u2028\u2029', '\ud83d\ude00 astral', '\\', '\\n', 'caf\u00e9', 'x'.repeat(70000)];

function setup(carrier, protocols) {
  const h = harness(carrier.env);
  const server = new FakeServer(h, {protocols: ['*']});
  const ws = h.open('ws://example.com/echo', protocols, {transports: carrier.transports});
  const log = record(ws);
  return {h, server, ws, log};
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

for (const carrier of CARRIERS) {
  const transport = carrier.transports[0];

  test(`${carrier.name}: opens with the negotiated subprotocol`, () => {
    const {h, ws, log} = setup(carrier, ['mqtt', 'v2']);
    h.clock.tick(1500); // a long-poll counts as up once its first poll held for a while
    assert.deepEqual(log, ['open']);
    assert.equal(ws.readyState, 1);
    assert.equal(ws.protocol, 'mqtt');
    assert.equal(ws.transport, transport);
    assert.equal(h.store.get('ferry.transport:example.com'), transport);
  });

  test(`${carrier.name}: text messages arrive byte-identical and in order`, () => {
    const {h, ws, log} = setup(carrier);
    h.clock.tick(50);
    for (const t of TEXTS) {
      ws.send(t);
    }
    h.clock.tick(2000);
    assert.deepEqual(log, ['open'].concat(TEXTS.map((t) => 'message:' + t)));
    assert.equal(ws.bufferedAmount, 0);
  });

  test(`${carrier.name}: binary messages, all 256 byte values, empty, views`, () => {
    const {h, ws} = setup(carrier);
    ws.binaryType = 'arraybuffer';
    const got = [];
    ws.onmessage = (e) => got.push(e.data);
    h.clock.tick(50);
    const all = new Uint8Array(256).map((_, i) => i);
    ws.send(all.buffer);
    ws.send(new ArrayBuffer(0));
    ws.send(all.subarray(250, 253)); // a view with an offset
    ws.send(new DataView(all.buffer, 1, 2));
    ws.send('between');
    h.clock.tick(2000);
    assert.equal(got.length, 5);
    assert.ok(got[0] instanceof ArrayBuffer);
    assert.deepEqual(Buffer.from(got[0]), Buffer.from(all));
    assert.equal(got[1].byteLength, 0);
    assert.deepEqual([...new Uint8Array(got[2])], [250, 251, 252]);
    assert.deepEqual([...new Uint8Array(got[3])], [1, 2]);
    assert.equal(got[4], 'between');
  });

  test(`${carrier.name}: binaryType blob delivers Blobs; sent Blobs keep their place`, async () => {
    const {h, ws} = setup(carrier);
    const got = [];
    ws.onmessage = (e) => got.push(e.data);
    h.clock.tick(50);
    ws.send('one');
    ws.send(new Blob([new Uint8Array([1, 2, 3])]));
    ws.send('three');
    assert.equal(ws.bufferedAmount, 11);
    for (let i = 0; i < 5; i++) {
      await flush(); // Blob.arrayBuffer() settles
      h.clock.tick(500);
    }
    assert.equal(got.length, 3);
    assert.equal(got[0], 'one');
    assert.ok(got[1] instanceof Blob);
    assert.deepEqual([...new Uint8Array(await got[1].arrayBuffer())], [1, 2, 3]);
    assert.equal(got[2], 'three');
  });

  test(`${carrier.name}: client close is clean and echoes the code`, () => {
    const {h, server, ws, log} = setup(carrier);
    h.clock.tick(50);
    ws.send('last');
    ws.close(4000, 'bye now');
    assert.equal(ws.readyState, 2);
    h.clock.tick(2000);
    assert.deepEqual(log, ['open', 'close:4000::true']);
    assert.equal(ws.readyState, 3);
    const s = server.only();
    assert.deepEqual(s.got.map((f) => f.kind + (f.data || f.code)), ['tlast', 'c4000']);
    assert.equal(s.got[1].reason, 'bye now');
    assert.equal(s.acked, s.sent, 'the client acknowledged the server close');
  });

  test(`${carrier.name}: server close reports code and reason after answering`, () => {
    const {h, server, ws, log} = setup(carrier);
    h.clock.tick(50);
    const states = [];
    ws.addEventListener('close', () => states.push(ws.readyState));
    server.serverClose(server.only(), 1001, 'going\naway');
    h.clock.tick(2000);
    assert.deepEqual(log, ['open', 'close:1001:going\naway:true']);
    assert.deepEqual(states, [3]);
    const s = server.only();
    assert.equal(s.closeGot.code, 1001, 'the client answered with the same code');
  });

  test(`${carrier.name}: bufferedAmount counts UTF-8 bytes until acknowledged`, () => {
    const {h, server, ws} = setup(carrier);
    h.clock.tick(50);
    server.holdPOSTs = true;
    if (transport === 'websocket') {
      server.latency = 100; // acks come back later
    }
    ws.send('\u00e9\u00e9'); // 4 bytes
    ws.send(new Uint8Array(10));
    assert.equal(ws.bufferedAmount, 14);
    h.clock.tick(10);
    assert.equal(ws.bufferedAmount, 14);
    server.holdPOSTs = false;
    server.release();
    h.clock.tick(1000);
    assert.equal(ws.bufferedAmount, 0);
  });
}
