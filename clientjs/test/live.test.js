'use strict';

// client.js against a real Ferry server, over HTTP carriers, with an
// XMLHttpRequest made of node:http. Skipped unless FERRY_URL names a
// server's echo service, for example:
//
//   go run ./cmd/ferry --listen 127.0.0.1:8931 &
//   FERRY_URL=http://127.0.0.1:8931/echo node --test clientjs/test/live.test.js
//
// With node --experimental-websocket (node 20) or node 22+, the Ferry
// WebSocket carrier runs too, including a drop and resume onto SSE.
// Browsers are covered by e2e/.

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const {StringDecoder} = require('node:string_decoder');
const Ferry = require('../client.js');

const BASE = process.env.FERRY_URL;

// NodeXHR implements the part of XMLHttpRequest that client.js uses.
class NodeXHR {
  constructor() {
    this.readyState = 0;
    this.status = 0;
    this.responseText = '';
    this.headers = {};
  }
  open(method, url) {
    this.method = method;
    this.url = url;
    this.readyState = 1;
  }
  setRequestHeader(k, v) {
    this.headers[k] = v;
  }
  overrideMimeType() {}
  change(state) {
    this.readyState = state;
    if (this.onreadystatechange) {
      this.onreadystatechange();
    }
    if (state === 3 && this.onprogress) {
      this.onprogress();
    }
  }
  send(body) {
    const u = new URL(this.url);
    const dec = new StringDecoder('utf8');
    this.req = http.request(u, {method: this.method, headers: this.headers, agent: NodeXHR.agent}, (res) => {
      this.status = res.statusCode;
      this.change(2);
      res.on('data', (b) => {
        this.responseText += dec.write(b);
        this.change(3);
      });
      res.on('end', () => {
        this.responseText += dec.end();
        this.change(4);
      });
      res.on('error', () => this.fail());
    });
    this.req.on('error', () => this.fail());
    this.req.end(body == null ? undefined : Buffer.from(body, 'utf8'));
  }
  fail() {
    if (this.readyState !== 4) {
      this.status = 0;
      this.change(4);
    }
  }
  abort() {
    this.onreadystatechange = null;
    this.onprogress = null;
    if (this.req) {
      this.req.destroy();
    }
  }
}
NodeXHR.agent = new http.Agent({keepAlive: true, maxSockets: 8});

function env(extra) {
  return Object.assign({WebSocket: null, EventSource: null, XMLHttpRequest: NodeXHR, sessionStorage: null, location: null}, extra);
}

const NativeWS = typeof WebSocket === 'function' ? WebSocket : null;

function open(transport, protocols, transports = [transport]) {
  const ws = new Ferry.WebSocket(BASE.replace(/^http/, 'ws'), protocols,
    {transports, env: env({WebSocket: NativeWS})});
  const events = [];
  const waiters = [];
  const push = (e) => {
    events.push(e);
    waiters.splice(0).forEach((w) => w());
  };
  ws.onopen = () => push({type: 'open'});
  ws.onmessage = (e) => push({type: 'message', data: e.data});
  ws.onerror = () => push({type: 'error'});
  ws.onclose = (e) => push({type: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean});
  const until = (pred, ms = 5000) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out; events: ' + JSON.stringify(events.map((e) => e.type)))), ms);
    const check = () => {
      if (pred(events)) {
        clearTimeout(timer);
        resolve(events);
      } else {
        waiters.push(check);
      }
    };
    check();
  });
  return {ws, events, until};
}

const TEXTS = ['hello', '', '\r', '\r\n', '\n\n', 'data: x', '\u0000', '\u2028', '\ud83d\ude00', '\\n', 'x'.repeat(200000)];

for (const transport of ['websocket', 'sse', 'longpoll']) {
  const skip = !BASE ? 'FERRY_URL not set' : transport === 'websocket' && !NativeWS ? 'no WebSocket in this node' : false;
  test(`live ${transport}: echo text and binary, then a clean close`, {skip}, async () => {
    const {ws, events, until} = open(transport);
    await until((ev) => ev.some((e) => e.type === 'open'));
    assert.equal(ws.transport, transport);
    ws.binaryType = 'arraybuffer';
    for (const t of TEXTS) {
      ws.send(t);
    }
    const all = new Uint8Array(256).map((_, i) => i);
    ws.send(all);
    ws.send(new Uint8Array(0));
    const n = TEXTS.length + 2;
    await until((ev) => ev.filter((e) => e.type === 'message').length >= n, 15000);
    const msgs = events.filter((e) => e.type === 'message').map((e) => e.data);
    assert.deepEqual(msgs.slice(0, TEXTS.length), TEXTS);
    assert.deepEqual(Buffer.from(msgs[TEXTS.length]), Buffer.from(all));
    assert.equal(msgs[TEXTS.length + 1].byteLength, 0);
    assert.equal(ws.bufferedAmount, 0);
    ws.close(4000, 'bye');
    await until((ev) => ev.some((e) => e.type === 'close'));
    const close = events.find((e) => e.type === 'close');
    assert.deepEqual([close.code, close.wasClean], [4000, true]);
  });
}

test('live: a session unknown to the server ends in 1006', {skip: !BASE && 'FERRY_URL not set'}, async () => {
  const {ws, until} = open('longpoll');
  await until((ev) => ev.some((e) => e.type === 'open'));
  ws._ferry.session.sid = 'AAAAAAAAAAAAAAAAAAAAAA'; // as if the server forgot it
  ws.send('x');
  const events = await until((ev) => ev.some((e) => e.type === 'close'));
  assert.deepEqual(events.slice(-2).map((e) => e.type), ['error', 'close']);
  assert.equal(events.at(-1).code, 1006);
  ws._ferry.session.finish(1006, '', false);
});

test('live websocket: a dropped connection resumes on SSE without a close event',
  {skip: !BASE ? 'FERRY_URL not set' : !NativeWS && 'no WebSocket in this node'}, async () => {
    const {ws, events, until} = open('websocket', undefined, ['websocket', 'sse']);
    await until((ev) => ev.some((e) => e.type === 'open'));
    assert.equal(ws.transport, 'websocket');
    ws.send('one');
    await until((ev) => ev.filter((e) => e.type === 'message').length === 1);
    const s = ws._ferry.session;
    s.env.WebSocket = function () {
      throw new Error('blocked'); // from now on WebSocket is blocked
    };
    s.carrier.ws.close(); // the carrier drops under the session
    s.carrier.fail({});
    ws.send('two');
    await until((ev) => ev.filter((e) => e.type === 'message').length === 2);
    assert.equal(ws.transport, 'sse');
    assert.deepEqual(events.map((e) => e.type + (e.data ? ':' + e.data : '')), ['open', 'message:one', 'message:two']);
    ws.close();
    await until((ev) => ev.some((e) => e.type === 'close'));
    assert.equal(events.at(-1).wasClean, true);
  });

test.after(() => NodeXHR.agent.destroy());
