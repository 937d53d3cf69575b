'use strict';

// The W3C surface: constructor arguments and exceptions, constants,
// attributes, event handler attributes, close() validation, event order.

const test = require('node:test');
const assert = require('node:assert/strict');
const {Ferry, harness, record, FakeServer} = require('./helpers');

function syntaxError(name) {
  return (e) => e instanceof DOMException && e.name === name;
}

test('constants live on the constructor and the prototype', () => {
  const W = Ferry.WebSocket;
  const names = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
  names.forEach((n, i) => {
    assert.equal(W[n], i);
    assert.equal(W.prototype[n], i);
    assert.throws(() => {
      W[n] = 9;
    }, TypeError);
  });
  const h = harness();
  const ws = h.open();
  names.forEach((n, i) => assert.equal(ws[n], i));
  assert.equal(ws.readyState, W.CONNECTING);
  assert.equal(ws.url, 'ws://example.com/echo');
  assert.equal(ws.bufferedAmount, 0);
  assert.equal(ws.extensions, '');
  assert.equal(ws.protocol, '');
  assert.equal(ws.binaryType, 'blob');
  assert.equal(ws.transport, '');
  for (const k of ['onopen', 'onmessage', 'onerror', 'onclose']) {
    assert.equal(ws[k], null);
  }
  assert.ok(ws instanceof Ferry.WebSocket);
  assert.ok(ws instanceof EventTarget);
  assert.deepEqual(Object.keys(ws), []);
  assert.equal(ws.constructor, Ferry.WebSocket);
});

test('the constructor requires new and a URL', () => {
  assert.throws(() => Ferry.WebSocket('ws://example.com/'), TypeError);
  assert.throws(() => new Ferry.WebSocket(), TypeError);
});

test('URLs: schemes, relative URLs, fragments, default ports', () => {
  const h = harness();
  const ok = [
    ['ws://example.com/echo', 'ws://example.com/echo'],
    ['wss://example.com/echo?x=1', 'wss://example.com/echo?x=1'],
    ['http://example.com/echo', 'ws://example.com/echo'],
    ['https://example.com:443/echo', 'wss://example.com/echo'],
    ['http://example.com:8080', 'ws://example.com:8080/'],
    ['HTTP://Example.COM/a', 'ws://example.com/a'],
    ['/echo', 'ws://example.com/echo'],
    ['echo', 'ws://example.com/app/echo'],
    ['//other.example/x', 'ws://other.example/x'],
    ['ws://example.com:443/', 'ws://example.com:443/']
  ];
  for (const [input, want] of ok) {
    assert.equal(h.open(input).url, want, input);
  }
  const bad = ['ftp://example.com/', 'file:///x', 'ws://example.com/#', 'ws://example.com/#frag',
    'mailto:x@example.com', 'http://[::1'];
  for (const input of bad) {
    assert.throws(() => h.open(input), syntaxError('SyntaxError'), input);
  }
});

test('URLs without the URL API, through the fallback parser', () => {
  const h = harness({URL: null});
  const ok = [
    ['ws://example.com/echo', 'ws://example.com/echo'],
    ['https://EXAMPLE.com:443/a/b?q=1', 'wss://example.com/a/b?q=1'],
    ['http://example.com:80', 'ws://example.com/'],
    ['/echo', 'ws://example.com/echo'],
    ['echo', 'ws://example.com/app/echo'],
    ['../x/./y', 'ws://example.com/x/y'],
    ['//other.example/z', 'ws://other.example/z'],
    ['?q', 'ws://example.com/app/index.html?q'],
    ['ws:/x', 'ws://x/'],
    ['ws:\\\\H\\echo', 'ws://h/echo'],
    ['ws:///echo', 'ws://echo/'],
    ['ws://H/\u00e9 x?a b\'c', 'ws://h/%C3%A9%20x?a%20b%27c']
  ];
  for (const [input, want] of ok) {
    assert.equal(h.open(input).url, want, input);
  }
  for (const input of ['ftp://example.com/', 'ws://example.com/#', 'ws://[oops/echo', 'ws://h:99999/']) {
    assert.throws(() => h.open(input), syntaxError('SyntaxError'), input);
  }
  const noLocation = harness({URL: null, location: null});
  assert.throws(() => noLocation.open('/echo'), syntaxError('SyntaxError'));
});

test('subprotocols must be distinct tokens', () => {
  const h = harness();
  assert.equal(h.open('ws://example.com/', 'mqtt').readyState, 0);
  assert.equal(h.open('ws://example.com/', ['a', 'b']).readyState, 0);
  assert.equal(h.open('ws://example.com/', []).readyState, 0);
  for (const bad of ['', 'a b', 'a,b', ['x', 'x'], ['ok', ''], ['a', 'b', 'a'], 'caf\u00e9', '{}']) {
    assert.throws(() => h.open('ws://example.com/', bad), syntaxError('SyntaxError'), JSON.stringify(bad));
  }
});

test('DOMException stand-in when the environment has none', () => {
  const h = harness({DOMException: null});
  assert.throws(() => h.open('ftp://x/'), (e) => e instanceof Error && e.name === 'SyntaxError');
});

test('send while CONNECTING throws InvalidStateError; send() needs an argument', () => {
  const h = harness();
  const ws = h.open();
  assert.throws(() => ws.send('x'), syntaxError('InvalidStateError'));
  assert.throws(() => ws.send(), TypeError);
});

test('close() validates the code, then the reason length', () => {
  const h = harness();
  const ws = h.open();
  for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535, NaN, -1]) {
    assert.throws(() => ws.close(code), syntaxError('InvalidAccessError'), String(code));
  }
  assert.throws(() => ws.close(1000, 'x'.repeat(124)), syntaxError('SyntaxError'));
  assert.throws(() => ws.close(1000, '\u00e9'.repeat(62)), syntaxError('SyntaxError'));
  assert.throws(() => ws.close(1001, 'x'.repeat(200)), syntaxError('InvalidAccessError'));
  assert.equal(ws.readyState, 0);
  ws.close(1000, 'x'.repeat(123)); // allowed
  assert.equal(ws.readyState, 2);
});

test('close() while CONNECTING: CLOSING at once, then error and close 1006', () => {
  const h = harness();
  const ws = h.open();
  const log = record(ws);
  const states = [];
  ws.onerror = () => states.push(ws.readyState);
  ws.close(3000, 'bye');
  assert.equal(ws.readyState, 2);
  assert.deepEqual(log, []);
  h.clock.tick(10);
  assert.deepEqual(log, ['error', 'close:1006::false']);
  assert.deepEqual(states, [3]);
  assert.equal(ws.readyState, 3);
  assert.ok(h.sockets[0].closed, 'the pending WebSocket was closed');
  ws.close(); // no-op once closed
  ws.send('late');
  assert.equal(ws.bufferedAmount, 4);
});

test('binaryType accepts blob and arraybuffer only', () => {
  const h = harness();
  const ws = h.open();
  ws.binaryType = 'arraybuffer';
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.binaryType = 'nonsense';
  assert.equal(ws.binaryType, 'arraybuffer');
  ws.binaryType = 'blob';
  assert.equal(ws.binaryType, 'blob');
});

test('event handler attributes keep their place among listeners', () => {
  for (const native of [true, false]) {
    const h = harness(native ? {} : {EventTarget: null});
    const ws = h.open();
    const order = [];
    ws.addEventListener('open', () => order.push('first'));
    ws.onopen = () => order.push('attr1');
    ws.addEventListener('open', () => order.push('last'));
    ws.onopen = () => order.push('attr2'); // replaces in place
    const once = () => order.push('once');
    ws.addEventListener('open', once, {once: true});
    ws.addEventListener('open', once); // duplicate: ignored
    ws.dispatchEvent(new Event('open'));
    ws.dispatchEvent(new Event('open'));
    assert.deepEqual(order, ['first', 'attr2', 'last', 'once', 'first', 'attr2', 'last'], native ? 'native' : 'fallback');
    ws.onopen = 'not a function';
    assert.equal(ws.onopen, null);
    order.length = 0;
    ws.dispatchEvent(new Event('open'));
    assert.deepEqual(order, ['first', 'last']);
  }
});

test('fallback events: listeners see target and this, handleEvent objects work', () => {
  const h = harness({EventTarget: null});
  new FakeServer(h);
  const ws = h.open();
  assert.ok(!(ws instanceof EventTarget) || true);
  let seen = null;
  ws.onopen = function (e) {
    seen = {self: this, target: e.target, type: e.type};
  };
  const obj = {calls: 0, handleEvent(e) {
    this.calls++;
    assert.equal(e.type, 'message');
  }};
  ws.addEventListener('message', obj);
  h.clock.tick(50);
  assert.equal(seen.self, ws);
  assert.equal(seen.target, ws);
  assert.equal(seen.type, 'open');
  ws.send('x');
  h.clock.tick(50);
  assert.equal(obj.calls, 1);
  ws.removeEventListener('message', obj);
  ws.send('y');
  h.clock.tick(50);
  assert.equal(obj.calls, 1);
});

test('open then messages then a clean close, with readyState at each event', () => {
  for (const native of [true, false]) {
    const h = harness(native ? {} : {EventTarget: null});
    const server = new FakeServer(h, {protocols: ['chat']});
    const ws = h.open('ws://example.com/echo', ['other', 'chat']);
    const seen = [];
    ws.onopen = (e) => seen.push(['open', ws.readyState, ws.protocol, ws.transport, e.type]);
    ws.onmessage = (e) => seen.push(['message', ws.readyState, e.data, e.origin]);
    ws.onclose = (e) => seen.push(['close', ws.readyState, e.code, e.reason, e.wasClean]);
    ws.onerror = () => seen.push(['error']);
    h.clock.tick(20);
    ws.send('hi');
    h.clock.tick(20);
    ws.close(1000, 'done');
    assert.equal(ws.readyState, 2);
    h.clock.tick(50);
    assert.deepEqual(seen, [
      ['open', 1, 'chat', 'websocket', 'open'],
      ['message', 1, 'hi', 'ws://example.com'],
      ['close', 3, 1000, '', true]
    ]);
    assert.equal(server.only().closeGot.reason, 'done');
  }
});

test('real MessageEvent and close event fields with a native EventTarget', () => {
  const h = harness();
  new FakeServer(h);
  const ws = h.open();
  let msg = null;
  let close = null;
  ws.onmessage = (e) => {
    msg = e;
  };
  ws.onclose = (e) => {
    close = e;
  };
  h.clock.tick(20);
  ws.send('x');
  h.clock.tick(20);
  assert.ok(msg instanceof MessageEvent);
  assert.equal(msg.target, ws);
  assert.equal(msg.lastEventId, '');
  ws.close(4321);
  h.clock.tick(20);
  assert.ok(close instanceof Event);
  assert.equal(close.type, 'close');
  assert.equal(close.code, 4321);
  assert.equal(close.wasClean, true);
  assert.equal(close.target, ws);
});

test('send() after close() only grows bufferedAmount', () => {
  const h = harness();
  const server = new FakeServer(h);
  const ws = h.open();
  h.clock.tick(20);
  ws.close();
  ws.send('abc');
  ws.send(new Uint8Array(5));
  assert.equal(ws.bufferedAmount, 8);
  h.clock.tick(50);
  assert.equal(ws.readyState, 3);
  ws.send('\u00e9');
  assert.equal(ws.bufferedAmount, 10);
  assert.deepEqual(server.only().got.map((f) => f.kind), ['c']);
});

test('non-string, non-binary data is sent as its string form', () => {
  const h = harness();
  const server = new FakeServer(h);
  const ws = h.open();
  h.clock.tick(20);
  ws.send(42);
  ws.send(null);
  h.clock.tick(20);
  assert.deepEqual(server.only().got.map((f) => f.data), ['42', 'null']);
});

test('connection failure on every transport: error then close 1006', () => {
  const h = harness();
  const server = new FakeServer(h);
  server.refuseWS = true;
  h.env.XMLHttpRequest = class extends h.FakeXHR {
    send() {
      setImmediateFake(h, () => this.fail());
    }
  };
  const ws = h.open();
  const log = record(ws);
  h.clock.tick(10000);
  assert.deepEqual(log, ['error', 'close:1006::false']);
  assert.equal(ws.readyState, 3);
});

function setImmediateFake(h, fn) {
  h.clock.setTimeout(fn, 1);
}

test('an empty transport list fails asynchronously', () => {
  const h = harness();
  const ws = h.open('ws://example.com/', [], {transports: ['nonsense']});
  const log = record(ws);
  assert.deepEqual(log, []);
  h.clock.tick(0);
  assert.deepEqual(log, ['error', 'close:1006::false']);
});

test('POST open refused with 400 fails without trying long-poll', () => {
  const h = harness({ws: false});
  const server = new FakeServer(h, {protocols: ['a']});
  const ws = h.open('ws://example.com/echo', ['b']);
  const log = record(ws);
  h.clock.tick(100);
  assert.deepEqual(log, ['error', 'close:1006::false']);
  assert.equal(server.requests.filter(([, p]) => p.includes('/open')).length, 1);
});

test('Ferry.install replaces WebSocket and keeps the native one underneath', () => {
  const h = harness();
  const win = {WebSocket: h.FakeWebSocket};
  Ferry.install(win);
  assert.equal(win.WebSocket, Ferry.WebSocket);
  Ferry.install(win); // idempotent
  // A socket whose env names Ferry.WebSocket itself uses the saved native one.
  new FakeServer(h);
  const ws = new win.WebSocket('ws://example.com/echo', [], {env: Object.assign({}, h.env, {WebSocket: Ferry.WebSocket})});
  h.clock.tick(20);
  assert.equal(ws.readyState, 1);
  assert.equal(ws.transport, 'websocket');
  Ferry.uninstall(win);
  assert.equal(win.WebSocket, h.FakeWebSocket);
});

test('Ferry.configure sets defaults for later sockets', () => {
  const before = Ferry.configure();
  try {
    const h = harness();
    const server = new FakeServer(h);
    Ferry.configure({transports: ['longpoll'], env: h.env});
    const ws = new Ferry.WebSocket('ws://example.com/echo');
    h.clock.tick(50);
    assert.equal(ws.transport, 'longpoll');
    assert.ok(server.requests.every(([m]) => m !== 'WS'));
    assert.deepEqual(Ferry.configure().transports, ['longpoll']);
    // A per-socket option wins.
    const ws2 = new Ferry.WebSocket('ws://example.com/echo', [], {transports: 'sse'});
    h.clock.tick(50);
    assert.equal(ws2.transport, 'sse');
  } finally {
    Ferry.configure(before);
  }
  assert.deepEqual(Ferry.configure().transports, ['websocket', 'sse', 'longpoll']);
});

test('transports are plain data with the same shape', () => {
  assert.deepEqual(Ferry.transports.map((t) => t.name), ['websocket', 'sse', 'longpoll']);
  for (const t of Ferry.transports) {
    assert.equal(typeof t.enabled, 'function');
    assert.equal(typeof t.open, 'function');
  }
  assert.equal(Ferry.transports[0].enabled({WebSocket: null}), false);
  assert.equal(Ferry.transports[1].enabled({XMLHttpRequest: function () {}}), true);
});
