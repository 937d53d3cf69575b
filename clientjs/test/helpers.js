'use strict';

// Test doubles for client.js: a fake clock, fake XMLHttpRequest, WebSocket
// and EventSource constructors, a fake fetch with a streamed body, and
// FakeServer, a small in-memory
// implementation of the server side of docs/PROTOCOL.md (an echo service)
// that answers those fakes.

const Ferry = require('../client.js');

// FakeClock runs timers only when the test advances time.
class FakeClock {
  constructor() {
    this.now = 0;
    this.timers = new Map();
    this.seq = 0;
    this.setTimeout = (fn, ms) => {
      const id = ++this.seq;
      this.timers.set(id, {at: this.now + Math.max(0, ms || 0), fn, id});
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers.delete(id);
    };
  }

  // tick advances time by ms, running due timers in order, including those
  // they schedule.
  tick(ms = 0) {
    const end = this.now + ms;
    for (;;) {
      let next = null;
      for (const t of this.timers.values()) {
        if (t.at <= end && (!next || t.at < next.at || (t.at === next.at && t.id < next.id))) {
          next = t;
        }
      }
      if (!next) {
        break;
      }
      this.timers.delete(next.id);
      this.now = next.at;
      next.fn();
    }
    this.now = end;
  }

  pending() {
    return this.timers.size;
  }
}

function utf8(s) {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

function control(text) {
  const body = utf8(text);
  const u8 = new Uint8Array(body.length + 1);
  u8[0] = 1;
  u8.set(body, 1);
  return u8.buffer;
}

// Thenable stands in for a promise: its reactions run as zero timers on
// the fake clock, so a fetch stream advances with clock.tick() like the
// other fakes (and, as with real promises, never within the call that
// settles it). then() returns nothing: client.js does not chain.
class Thenable {
  constructor(clock) {
    this.clock = clock;
    this.state = 'pending';
    this.value = undefined;
    this.reactions = [];
  }
  then(ok, err) {
    this.reactions.push([ok, err]);
    if (this.state !== 'pending') {
      this.run();
    }
  }
  resolve(v) {
    this.settle('fulfilled', v);
  }
  reject(e) {
    this.settle('rejected', e);
  }
  settle(state, value) {
    if (this.state === 'pending') {
      this.state = state;
      this.value = value;
      this.run();
    }
  }
  run() {
    for (const [ok, err] of this.reactions.splice(0)) {
      this.clock.setTimeout(() => {
        const fn = this.state === 'fulfilled' ? ok : err;
        if (fn) {
          fn(this.value);
        }
      }, 0);
    }
  }
}

// harness builds an injectable env of fakes. opts: ws, es (include
// WebSocket / EventSource), fetch (true: the fake fetch; a function: that
// fetch; absent: a browser without fetch), storage (a Map-backed sessionStorage), plus
// any env key to override.
function harness(opts = {}) {
  const clock = new FakeClock();
  const h = {clock, xhrs: [], sockets: [], sources: [], fetches: [], server: null, store: new Map()};
  h.fetchBodies = true; // false: responses without a readable body (fetch without streams)

  class FakeXHR {
    constructor() {
      this.readyState = 0;
      this.status = 0;
      this.responseText = '';
      this.headers = {};
      this.aborted = false;
      this.onreadystatechange = null;
      this.onprogress = null;
      h.xhrs.push(this);
    }
    open(method, url) {
      this.method = method;
      this.url = url;
      this.u = new URL(url);
      this.readyState = 1;
    }
    setRequestHeader(k, v) {
      this.headers[k] = v;
    }
    overrideMimeType(m) {
      this.mime = m;
    }
    send(body) {
      this.body = body;
      if (h.server) {
        h.server.onXHR(this);
      }
    }
    abort() {
      this.aborted = true;
      if (h.server) {
        h.server.onAbort(this);
      }
    }
    get done() {
      return this.readyState === 4 || this.aborted;
    }
    get path() {
      return this.u.pathname;
    }
    param(k) {
      return this.u.searchParams.get(k);
    }
    // Test side.
    respond(status, text = '') {
      if (this.done) {
        return;
      }
      this.status = status;
      this.responseText = text;
      this.readyState = 4;
      if (this.onreadystatechange) {
        this.onreadystatechange();
      }
    }
    chunk(text) {
      if (this.done) {
        return;
      }
      this.status = 200;
      this.readyState = 3;
      this.responseText += text;
      if (this.onreadystatechange) {
        this.onreadystatechange();
      }
      if (this.onprogress) {
        this.onprogress();
      }
    }
    end() {
      if (this.done) {
        return;
      }
      this.readyState = 4;
      if (this.onreadystatechange) {
        this.onreadystatechange();
      }
    }
    fail() {
      this.respond(0, '');
    }
  }

  class FakeWebSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols === undefined ? [] : [].concat(protocols);
      this.readyState = 0;
      this.sent = [];
      this.binaryType = 'blob';
      this.closed = null;
      h.sockets.push(this);
      if (h.server) {
        h.server.onWS(this);
      }
    }
    send(d) {
      if (this.readyState !== 1) {
        throw new Error('InvalidStateError');
      }
      this.sent.push(d);
      if (h.server) {
        h.server.onWSMessage(this, d);
      }
    }
    close(code) {
      if (this.closed) {
        return;
      }
      this.closed = {code};
      this.readyState = 3;
      if (h.server) {
        h.server.onWSClose(this);
      }
    }
    // Test side.
    accept() {
      this.readyState = 1;
      if (this.onopen) {
        this.onopen({});
      }
    }
    message(data) {
      if (this.onmessage && this.readyState === 1) {
        this.onmessage({data});
      }
    }
    control(text) {
      this.message(control(text));
    }
    drop(code = 1006) {
      if (this.readyState === 3 && this.closed) {
        return;
      }
      this.readyState = 3;
      if (this.onerror && code === 1006) {
        this.onerror({});
      }
      if (this.onclose) {
        this.onclose({code, reason: '', wasClean: code !== 1006});
      }
    }
    // sentText lists the text of every message the client wrote, control
    // frames as "\u0001<frame>" and binary data as "\u0000<base64>".
    sentText() {
      return this.sent.map((d) => {
        if (typeof d === 'string') {
          return d;
        }
        const b = Buffer.from(d);
        return b[0] === 1 ? '\u0001' + b.subarray(1).toString('utf8') : '\u0000' + b.subarray(1).toString('base64');
      });
    }
  }
  FakeWebSocket.CONNECTING = 0;
  FakeWebSocket.OPEN = 1;

  // FakeFetch is one fetch() call. Its test side mirrors FakeXHR's
  // (respond, chunk, end, fail, done), so FakeServer answers both alike;
  // chunk also takes a Uint8Array, to split UTF-8 sequences. The body is a
  // queue of chunks read through getReader(); the request's AbortSignal
  // ends it as a browser does (pending reads reject with AbortError).
  class FakeFetch {
    constructor(url, init = {}) {
      this.url = url;
      this.init = init;
      this.method = init.method || 'GET';
      this.u = new URL(url);
      this.status = 0;
      this.ended = false;
      this.failed = false;
      this.aborted = false;
      this.answer = new Thenable(clock);
      this.queue = []; // chunks not yet read
      this.reads = []; // reads waiting for a chunk
      this.bytes = 0; // bytes the client has read
      h.fetches.push(this);
      if (init.signal) {
        if (init.signal.aborted) {
          this.abort();
        } else {
          init.signal.addEventListener('abort', () => this.abort());
        }
      }
      if (h.server && !this.aborted) {
        h.server.onXHR(this);
      }
    }
    get done() {
      return this.ended || this.failed || this.aborted;
    }
    get path() {
      return this.u.pathname;
    }
    param(k) {
      return this.u.searchParams.get(k);
    }
    abort() {
      if (this.done) {
        return;
      }
      this.aborted = true;
      const e = new DOMException('The operation was aborted.', 'AbortError');
      this.answer.reject(e);
      this.pump();
      if (h.server) {
        h.server.onAbort(this);
      }
    }
    headers() {
      if (this.status === 0) {
        this.status = 200;
        this.answer.resolve(this.response());
      }
    }
    response() {
      const reader = {
        read: () => {
          const t = new Thenable(clock);
          this.reads.push(t);
          this.pump();
          return t;
        },
        cancel: () => this.abort(),
        releaseLock: () => {}
      };
      return {
        status: this.status, ok: this.status >= 200 && this.status < 300,
        body: h.fetchBodies ? {getReader: () => reader} : null
      };
    }
    pump() {
      while (this.reads.length) {
        if (this.queue.length && !this.aborted) {
          const value = this.queue.shift();
          this.bytes += value.length;
          this.reads.shift().resolve({done: false, value});
        } else if (this.aborted) {
          this.reads.shift().reject(new DOMException('The operation was aborted.', 'AbortError'));
        } else if (this.failed) {
          this.reads.shift().reject(new TypeError('network error'));
        } else if (this.ended) {
          this.reads.shift().resolve({done: true, value: undefined});
        } else {
          break;
        }
      }
    }
    // Test side.
    respond(status, text = '') {
      if (this.done) {
        return;
      }
      this.status = status;
      this.answer.resolve(this.response());
      if (text) {
        this.queue.push(utf8(text));
      }
      this.end();
    }
    chunk(data) {
      if (this.done) {
        return;
      }
      this.headers();
      this.queue.push(typeof data === 'string' ? utf8(data) : data);
      this.pump();
    }
    end() {
      if (this.done) {
        return;
      }
      this.headers();
      this.ended = true;
      this.pump();
    }
    // fail is a network error: before the headers fetch() rejects, after
    // them the body's next read does.
    fail() {
      if (this.done) {
        return;
      }
      this.failed = true;
      this.answer.reject(new TypeError('Failed to fetch'));
      this.pump();
    }
  }

  class FakeEventSource {
    constructor(url, init) {
      this.url = url;
      this.init = init;
      this.readyState = 0;
      this.closed = false;
      this.lastEventId = '';
      this.u = new URL(url);
      h.sources.push(this);
      if (h.server) {
        h.server.onES(this);
      }
    }
    close() {
      this.closed = true;
      this.readyState = 2;
      if (h.server) {
        h.server.onAbort(this);
      }
    }
    param(k) {
      return this.u.searchParams.get(k);
    }
    // Test side.
    message(data, id) {
      if (this.closed) {
        return;
      }
      this.readyState = 1;
      if (id !== undefined) {
        this.lastEventId = String(id);
      }
      if (this.onmessage) {
        this.onmessage({data, lastEventId: this.lastEventId});
      }
    }
    error(fatal) {
      if (this.closed) {
        return;
      }
      this.readyState = fatal ? 2 : 0;
      if (this.onerror) {
        this.onerror({});
      }
    }
  }

  const storage = {
    getItem: (k) => (h.store.has(k) ? h.store.get(k) : null),
    setItem: (k, v) => h.store.set(k, String(v)),
    removeItem: (k) => h.store.delete(k)
  };

  h.env = {
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    XMLHttpRequest: FakeXHR,
    WebSocket: opts.ws === false ? null : FakeWebSocket,
    EventSource: opts.es ? FakeEventSource : null,
    fetch: typeof opts.fetch === 'function' ? opts.fetch : opts.fetch ? (url, init) => new FakeFetch(url, init).answer : null,
    sessionStorage: storage,
    location: {href: 'http://example.com/app/index.html'},
    random: () => 0.5,
    // Run "after this task" work at once, so the tests can check what a
    // call sends right after it; a test of the batching itself passes a
    // queueMicrotask option that defers (see reliability.test.js).
    queueMicrotask: (fn) => fn()
  };
  for (const k of Object.keys(opts)) {
    if (!['ws', 'es', 'fetch'].includes(k)) {
      h.env[k] = opts[k];
    }
  }
  h.FakeXHR = FakeXHR;
  h.FakeWebSocket = FakeWebSocket;
  h.FakeEventSource = FakeEventSource;
  h.FakeFetch = FakeFetch;
  // open creates a socket on this env; extra options are merged in.
  h.open = (url = 'ws://example.com/echo', protocols, o = {}) =>
    new Ferry.WebSocket(url, protocols, Object.assign({env: h.env}, o));
  h.pendingXHR = () => h.xhrs.filter((x) => !x.done);
  h.lastXHR = (path) => h.xhrs.filter((x) => !path || x.path.endsWith(path)).pop();
  h.lastFetch = () => h.fetches[h.fetches.length - 1];
  return h;
}

// record collects a socket's events as strings, in order.
function record(ws) {
  const log = [];
  for (const type of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(type, (e) => {
      if (type === 'message') {
        const d = e.data;
        log.push('message:' + (typeof d === 'string' ? d : d instanceof Blob ? '[blob]' : '[' + Buffer.from(d).toString('base64') + ']'));
      } else if (type === 'close') {
        log.push(`close:${e.code}:${e.reason}:${e.wasClean}`);
      } else {
        log.push(type);
      }
    });
  }
  return log;
}

// ---------------------------------------------------------------------------
// FakeServer: the server side of the protocol, for an echo service.

function escapeText(s) {
  return s.replace(/[\\\r\n]/g, (c) => (c === '\\' ? '\\\\' : c === '\r' ? '\\r' : '\\n'));
}

function unescapeText(s) {
  return s.replace(/\\(.)/g, (m, c) => (c === 'r' ? '\r' : c === 'n' ? '\n' : c));
}

function frameLine(f) {
  if (f.kind === 't') {
    return 't' + escapeText(f.data);
  }
  if (f.kind === 'b') {
    return 'b' + Buffer.from(f.data).toString('base64');
  }
  return 'c' + f.code + (f.reason ? ' ' + escapeText(f.reason) : '');
}

function parseLine(line) {
  const k = line[0];
  if (k === 't') {
    return {kind: 't', data: unescapeText(line.slice(1))};
  }
  if (k === 'b') {
    return {kind: 'b', data: Buffer.from(line.slice(1), 'base64')};
  }
  if (k === 'c') {
    if (line === 'c') {
      return {kind: 'c', code: 1005, reason: ''};
    }
    const m = /^c(\d+)(?: (.*))?$/s.exec(line);
    return {kind: 'c', code: +m[1], reason: m[2] ? unescapeText(m[2]) : ''};
  }
  throw new Error('bad frame ' + line);
}

class FakeServer {
  constructor(h, opts = {}) {
    this.h = h;
    this.h.server = this;
    this.sessions = new Map();
    this.n = 0;
    this.latency = 1;
    this.transports = opts.transports || ['websocket', 'sse', 'longpoll'];
    this.protocols = opts.protocols || [];
    this.resumeTimeoutMs = opts.resumeTimeoutMs || 30000;
    this.echo = opts.echo !== false;
    this.buffering = false; // SSE streams deliver nothing (a buffering proxy)
    this.refuseWS = false; // WebSocket upgrades fail
    this.hangWS = false; // WebSocket upgrades never complete
    this.failPOSTs = 0; // fail this many send POSTs with a network error
    this.failPolls = false; // long-poll requests fail with a network error
    this.failOpens = 0; // fail this many POST open requests with a network error
    this.holdPOSTs = false; // keep send POSTs unanswered until release()
    this.held = [];
    this.requests = []; // [method, path with query]
  }

  later(fn) {
    this.h.clock.setTimeout(fn, this.latency);
  }

  info(s) {
    return {
      v: 1, session: s.sid, protocol: s.protocol, transports: this.transports,
      heartbeatMs: 25000, resumeTimeoutMs: this.resumeTimeoutMs, maxMessageBytes: 16777216,
      maxBodyBytes: 22373716, windowBytes: 1048576, ack: s.recv
    };
  }

  create(protocols) {
    const offered = protocols ? protocols.split(',').filter(Boolean) : [];
    let protocol = '';
    if (offered.length) {
      protocol = offered.find((p) => this.protocols.includes(p) || this.protocols.includes('*'));
      if (!protocol) {
        return null;
      }
    }
    const sid = ('s' + ++this.n).padEnd(22, 'x');
    const s = {
      sid, protocol, out: [], sent: 0, acked: 0, recv: 0, got: [], leg: null,
      closeSent: false, closeGot: null, done: false, forgotten: false
    };
    this.sessions.set(sid, s);
    return s;
  }

  // push queues a frame from the service to the client.
  push(s, f) {
    if (s.closeSent) {
      return;
    }
    const frame = Object.assign({seq: ++s.sent}, f);
    frame.line = frameLine(frame);
    s.out.push(frame);
    if (f.kind === 'c') {
      s.closeSent = true;
    }
    if (s.leg) {
      s.leg.flush();
    }
  }

  // serverClose starts a close from the service side.
  serverClose(s, code, reason = '') {
    this.push(s, {kind: 'c', code, reason});
  }

  ack(s, n) {
    if (n > s.acked) {
      s.acked = n;
      s.out = s.out.filter((f) => f.seq > n);
    }
  }

  // deliver takes upstream frames numbered from seq, dropping duplicates.
  deliver(s, seq, frames) {
    frames.forEach((f, i) => {
      const n = seq + i;
      if (n <= s.recv) {
        return;
      }
      if (n !== s.recv + 1) {
        throw new Error(`gap: got ${n} after ${s.recv}`);
      }
      s.recv = n;
      s.got.push(f);
      if (f.kind === 'c') {
        s.closeGot = f;
        if (!s.closeSent) {
          this.push(s, {kind: 'c', code: f.code, reason: ''});
        }
      } else if (this.echo) {
        this.push(s, f);
      }
    });
  }

  session(sid) {
    const s = this.sessions.get(sid);
    return s && !s.forgotten ? s : null;
  }

  // forget drops a session: every later request about it gets 404.
  forget(s) {
    s.forgotten = true;
    if (s.leg) {
      s.leg.end();
      s.leg = null;
    }
  }

  attach(s, leg, last) {
    if (s.leg) {
      s.leg.end();
    }
    this.ack(s, last);
    leg.cursor = last;
    s.leg = leg;
  }

  onXHR(x) {
    this.requests.push([x.method, x.path + x.u.search]);
    const m = /\/\.ferry\/(?:(open)|([^/]+)\/(send|sse|poll))$/.exec(x.path);
    if (!m) {
      return this.later(() => x.respond(404, 'ferry: not found\n'));
    }
    if (m[1] && this.failOpens > 0) {
      this.failOpens--;
      return this.later(() => x.fail());
    }
    if (m[1]) {
      return this.later(() => {
        const s = this.create(x.param('protocols'));
        if (!s) {
          return x.respond(400, 'ferry: no supported subprotocol\n');
        }
        x.respond(200, JSON.stringify(this.info(s)));
      });
    }
    const s = this.session(m[2]);
    if (!s) {
      return this.later(() => x.respond(404, 'ferry: session not found\n'));
    }
    if (m[3] === 'send') {
      return this.onSend(s, x);
    }
    if (m[3] === 'sse') {
      return this.later(() => this.sseLeg(s, x, +x.param('last')));
    }
    if (this.failPolls) {
      return this.later(() => x.fail());
    }
    return this.later(() => this.pollLeg(s, x, +x.param('last')));
  }

  onSend(s, x) {
    if (this.failPOSTs > 0) {
      this.failPOSTs--;
      return this.later(() => x.fail());
    }
    const answer = () => {
      if (x.done) {
        return;
      }
      if (x.param('ack')) {
        this.ack(s, +x.param('ack'));
      }
      const lines = x.body ? x.body.split('\n').filter((l) => l !== '') : [];
      if (lines.length) {
        this.deliver(s, +x.param('seq'), lines.map(parseLine));
      }
      x.respond(200, 'a' + s.recv);
    };
    if (this.holdPOSTs) {
      this.held.push(answer);
      return;
    }
    this.later(answer);
  }

  release() {
    const held = this.held;
    this.held = [];
    held.forEach((f) => this.later(f));
  }

  sseLeg(s, x, last) {
    if (x.done) {
      return;
    }
    const leg = {
      x, written: false,
      flush: () => {
        if (this.buffering || x.done) {
          return;
        }
        let text = '';
        if (!leg.written) {
          leg.written = true;
          text += ':' + ' '.repeat(2048) + '\n\nretry: 1000\ndata: o' + JSON.stringify(this.info(s)) + '\n\n';
        }
        for (const f of s.out) {
          if (f.seq > leg.cursor) {
            text += `id: ${f.seq}\ndata: ${f.line}\n\n`;
            leg.cursor = f.seq;
          }
        }
        if (text) {
          x.chunk(text);
        }
      },
      end: () => x.end()
    };
    this.attach(s, leg, last);
    leg.flush();
  }

  pollLeg(s, x, last) {
    if (x.done) {
      return;
    }
    const leg = {
      x,
      flush: () => {
        const frames = s.out.filter((f) => f.seq > leg.cursor);
        if (!frames.length || x.done) {
          return;
        }
        s.leg = null;
        x.respond(200, frames.map((f) => `id: ${f.seq}\ndata: ${f.line}\n\n`).join(''));
      },
      end: () => x.respond(200, 'data: h\n\n')
    };
    this.attach(s, leg, last);
    leg.flush();
  }

  onES(es) {
    const m = /\/\.ferry\/([^/]+)\/sse$/.exec(es.u.pathname);
    this.requests.push(['GET', es.u.pathname + es.u.search]);
    this.later(() => {
      const s = m && this.session(m[1]);
      if (!s) {
        return es.error(true);
      }
      const leg = {
        es, written: false,
        flush: () => {
          if (this.buffering || es.closed) {
            return;
          }
          if (!leg.written) {
            leg.written = true;
            es.message('o' + JSON.stringify(this.info(s)));
          }
          for (const f of s.out) {
            if (f.seq > leg.cursor && !es.closed) {
              leg.cursor = f.seq;
              es.message(f.line, f.seq);
            }
          }
        },
        end: () => es.error(false)
      };
      this.attach(s, leg, +es.param('last'));
      leg.flush();
    });
  }

  onWS(ws) {
    const u = new URL(ws.url);
    this.requests.push(['WS', u.pathname + u.search]);
    this.later(() => {
      if (this.hangWS) {
        return;
      }
      if (this.refuseWS) {
        return ws.drop(1006);
      }
      const m = /\/\.ferry\/(?:([^/]+)\/)?ws$/.exec(u.pathname);
      let s;
      let last = 0;
      if (m && m[1]) {
        s = this.session(m[1]);
        last = +u.searchParams.get('last');
      } else if (m) {
        s = this.create(ws.protocols.join(','));
      }
      if (!s) {
        return ws.drop(1006);
      }
      ws.accept();
      ws.session = s;
      ws.next = s.recv + 1;
      const leg = {
        ws,
        flush: () => {
          for (const f of s.out) {
            if (f.seq > leg.cursor && ws.readyState === 1) {
              leg.cursor = f.seq;
              if (f.kind === 't') {
                ws.message(f.data);
              } else if (f.kind === 'b') {
                const u8 = new Uint8Array(f.data.length + 1);
                u8.set(f.data, 1);
                ws.message(u8.buffer);
              } else {
                ws.control(f.line);
              }
            }
          }
        },
        end: () => ws.drop(4000)
      };
      this.attach(s, leg, last);
      ws.control('o' + JSON.stringify(this.info(s)));
      leg.flush();
    });
  }

  onWSMessage(ws, d) {
    const s = ws.session;
    let f;
    if (typeof d === 'string') {
      f = {kind: 't', data: d};
    } else {
      const b = Buffer.from(d);
      if (b[0] === 0) {
        f = {kind: 'b', data: b.subarray(1)};
      } else {
        const text = b.subarray(1).toString('utf8');
        if (text[0] === 'a') {
          return this.ack(s, +text.slice(1));
        }
        f = parseLine(text);
      }
    }
    const n = ws.next++;
    this.later(() => {
      this.deliver(s, n, [f]);
      if (ws.readyState === 1) {
        ws.control('a' + s.recv);
      }
    });
  }

  onWSClose(ws) {
    const s = ws.session;
    if (s && s.leg && s.leg.ws === ws) {
      s.leg = null;
    }
  }

  onAbort(x) {
    for (const s of this.sessions.values()) {
      if (s.leg && (s.leg.x === x || s.leg.es === x)) {
        s.leg = null;
      }
    }
  }

  only() {
    const all = [...this.sessions.values()];
    if (all.length !== 1) {
      throw new Error(`expected one session, have ${all.length}`);
    }
    return all[0];
  }
}

module.exports = {Ferry, FakeClock, harness, record, FakeServer, control, utf8};
