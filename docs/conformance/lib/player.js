'use strict';

// Player plays one vector's steps against a server (README.md, "Steps").
// Each step method throws an Error whose message is the first difference.

const http = require('node:http');
const https = require('node:https');
const {subst, expr, gen, hex, match, subset, save, short, show, EventStream, parseFrames} = require('./format');
const {expand, matchFrame, describeFrame, matchMessage, describeMessage, controlKind, consume} = require('./expect');
const {Queue} = require('./queue');
const websocket = require('./websocket');

const STEP_KEYS = {
  http: ['headers', 'body', 'bodyHex', 'partial', 'stream', 'async', 'expect', 'save'],
  await: ['expect', 'save'],
  ws: ['as', 'headers', 'autoPong', 'expect', 'save'],
  send: ['text', 'textHex', 'binary', 'base64', 'control', 'close', 'ping', 'times'],
  read: ['frames', 'messages', 'raw', 'end', 'silence', 'close', 'ping', 'skip', 'within', 'save'],
  cut: [],
  sleep: []
};
const EXPECT_KEYS = ['status', 'headers', 'body', 'lines', 'json', 'frames', 'error', 'within', 'after'];

// verb returns a step's kind, checking that its keys belong to it.
function verb(step) {
  const verbs = Object.keys(step).filter((k) => k in STEP_KEYS);
  if (verbs.length !== 1) {
    throw new Error(`a step needs exactly one of ${Object.keys(STEP_KEYS).join(', ')}`);
  }
  const v = verbs[0];
  for (const k of Object.keys(step)) {
    if (k !== v && k !== 'note' && !STEP_KEYS[v].includes(k)) {
      throw new Error(`unknown key ${JSON.stringify(k)} in a ${v} step`);
    }
  }
  for (const k of Object.keys(step.expect || {})) {
    if (!EXPECT_KEYS.includes(k)) {
      throw new Error(`unknown key ${JSON.stringify(k)} in expect`);
    }
  }
  return v;
}

// describe names a step in a failure report.
function describe(step) {
  const v = verb(step);
  switch (v) {
    case 'http':
      return short(typeof step.http === 'string' ? step.http : JSON.stringify(step.http), 60);
    case 'ws':
      return `ws ${step.ws || '(service path)'}`;
    default:
      return `${v} ${typeof step[v] === 'string' ? step[v] : JSON.stringify(step[v])}`;
  }
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

// withDeadline rejects if p has not settled by deadline.
function withDeadline(p, deadline, what) {
  const ms = Math.max(0, deadline - Date.now());
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: none within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

class Player {
  // base is the service URL; opts.timeout the default wait in ms.
  constructor(base, opts) {
    this.base = base.replace(/\/+$/, '');
    this.timeout = opts.timeout;
    const u = new URL(this.base);
    this.vars = {origin: u.origin, host: u.host};
    this.conns = new Map();
  }

  async play(vector) {
    try {
      for (const [i, step] of vector.steps.entries()) {
        try {
          await this[verb(step)](step);
        } catch (e) {
          throw new Error(`step ${i + 1} (${safeDescribe(step)}): ${e.message}`, {cause: e});
        }
      }
    } finally {
      this.close();
    }
  }

  close() {
    for (const c of this.conns.values()) {
      if (c.ws) {
        c.ws.destroy();
      }
      if (c.req) {
        c.req.destroy();
      }
    }
    this.conns.clear();
  }

  url(path) {
    return this.base + subst(path, this.vars);
  }

  deadline(within, from = Date.now()) {
    return from + (within === undefined ? this.timeout : expr(within, this.vars));
  }

  conn(name, kind) {
    const c = this.conns.get(name);
    if (!c) {
      throw new Error(`no connection named ${JSON.stringify(name)}`);
    }
    if (kind && !kind.includes(c.kind)) {
      throw new Error(`${name} is a ${c.kind}, not a ${kind.join(' or ')}`);
    }
    return c;
  }

  // http sends a request (README.md, "http").
  async http(step) {
    const reqLine = gen(step.http, this.vars);
    const sp = reqLine.indexOf(' ');
    const method = reqLine.slice(0, sp);
    const url = this.base + reqLine.slice(sp + 1);
    const body = 'bodyHex' in step ? hex(step.bodyHex, this.vars) : 'body' in step ? Buffer.from(gen(step.body, this.vars)) : null;
    const headers = this.headers(step.headers, method, body);
    const t0 = Date.now();
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.request(url, {method, headers, agent: false});
    const response = new Promise((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', reject);
    });
    response.catch(() => {});
    const name = step.stream || step.async;
    if (name) {
      this.conns.set(name, {kind: step.stream ? 'stream' : 'async', req, t0});
    }
    if (step.partial) {
      await this.partial(step, req, body);
      if (step.partial.then === 'cut') {
        return;
      }
    } else {
      req.end(body || undefined);
    }
    const deadline = this.deadline(step.expect && step.expect.within, t0);
    if (step.async) {
      const c = this.conns.get(name);
      c.done = response.then((res) => readAll(res));
      c.done.catch(() => {});
      return;
    }
    const res = await withDeadline(response, deadline, 'response');
    if (step.stream) {
      this.check(step.expect || {}, {status: res.statusCode, headers: res.headers}, Date.now() - t0, step.save);
      this.stream(name, res);
      return;
    }
    const r = await withDeadline(readAll(res), deadline, 'response body');
    this.check(step.expect || {}, r, Date.now() - t0, step.save);
  }

  headers(spec, method, body) {
    const h = {};
    if (method === 'POST') {
      h['Content-Type'] = 'text/plain;charset=UTF-8';
    }
    if (body !== null) {
      h['Content-Length'] = String(body.length);
    }
    for (const [k, v] of Object.entries(spec || {})) {
      for (const name of Object.keys(h)) {
        if (name.toLowerCase() === k.toLowerCase()) {
          delete h[name];
        }
      }
      if (v !== null) {
        h[k] = subst(v, this.vars);
      }
    }
    return h;
  }

  // partial writes the first bytes of the body only, then waits for the
  // response ("stall") or drops the connection ("cut").
  async partial(step, req, body) {
    req.write(body.subarray(0, expr(step.partial.bytes, this.vars)));
    if (step.partial.then === 'cut') {
      await delay(200);
      req.destroy();
      return;
    }
    if (step.partial.then !== 'stall') {
      throw new Error('partial.then is "stall" or "cut"');
    }
  }

  stream(name, res) {
    const c = this.conns.get(name);
    c.items = new Queue();
    c.raw = '';
    const es = new EventStream((f) => c.items.push(f));
    res.on('data', (chunk) => {
      if (c.raw.length < 1 << 20) {
        c.raw += chunk.toString('latin1');
      }
      es.feed(chunk);
    });
    res.on('end', () => {
      es.end();
      c.items.end({type: 'end'});
    });
    res.on('error', () => c.items.end({type: 'end'}));
    res.on('close', () => c.items.end({type: 'end'}));
  }

  // check compares a response with an expect object.
  check(want, r, elapsed, saveSpec) {
    const v = this.vars;
    const status = want.status === undefined ? 200 : want.status;
    if (typeof status === 'number' ? r.status !== status : match(status, String(r.status), v) !== null) {
      const want = typeof status === 'number' ? status : `/${status.regex}/`;
      throw new Error(`status ${r.status}, want ${want}${r.body ? `: ${short(r.body.toString().trim())}` : ''}`);
    }
    if (want.within !== undefined && elapsed > expr(want.within, v)) {
      throw new Error(`answered after ${elapsed} ms, want within ${expr(want.within, v)}`);
    }
    if (want.after !== undefined && elapsed < expr(want.after, v)) {
      throw new Error(`answered after ${elapsed} ms, want at least ${expr(want.after, v)}`);
    }
    for (const [k, m] of Object.entries(want.headers || {})) {
      const d = match(m, headerValue(r.headers, k), v);
      if (d) {
        throw new Error(`header ${k}: ${d}`);
      }
    }
    if (r.body === undefined) {
      return;
    }
    const text = r.body.toString('utf8');
    if (want.error !== undefined) {
      checkError(want.error, r, text, v);
    }
    if (want.body !== undefined) {
      const d = match(want.body, text, v);
      if (d) {
        throw new Error(`body: ${d}`);
      }
    }
    if (want.lines !== undefined) {
      const d = subset(want.lines, text.replace(/\n$/, '').split('\n'), v, 'lines');
      if (d) {
        throw new Error(d);
      }
    }
    if (want.frames !== undefined) {
      this.checkFrames(want.frames, parseFrames(r.body));
    }
    if (want.json !== undefined || saveSpec) {
      let obj;
      try {
        obj = JSON.parse(text);
      } catch (e) {
        throw new Error(`body is not JSON: ${short(text)}`, {cause: e});
      }
      const d = want.json === undefined ? null : subset(want.json, obj, v);
      if (d) {
        throw new Error(`json ${d}`);
      }
      save(saveSpec, obj, v);
    }
  }

  // checkFrames compares a whole body's frames: no frame may be left over.
  checkFrames(wants, frames) {
    const list = expand(wants, this.vars);
    let i = 0;
    for (const w of list) {
      const f = frames[i++];
      if (!f) {
        throw new Error(`frames: ${frames.length} frames, want ${list.length}; missing ${short(JSON.stringify(w))}`);
      }
      const d = matchFrame(w, f, this.vars);
      if (d) {
        throw new Error(`frame ${i}: ${describeFrame(f)}: ${d}`);
      }
    }
    if (i < frames.length) {
      throw new Error(`frames: unexpected ${describeFrame(frames[i])} after the ${list.length} expected`);
    }
  }

  // await waits for an async request's response.
  async await(step) {
    const c = this.conn(step.await, ['async']);
    const t0 = Date.now();
    const r = await withDeadline(c.done, this.deadline(step.expect && step.expect.within, t0), 'response');
    this.conns.delete(step.await);
    this.check(step.expect || {}, r, Date.now() - t0, step.save);
  }

  // ws opens a WebSocket (README.md, "ws").
  async ws(step) {
    const url = this.url(step.ws);
    const headers = {};
    for (const [k, val] of Object.entries(step.headers || {})) {
      headers[k] = subst(val, this.vars);
    }
    const want = {status: 101, ...(step.expect || {})};
    const t0 = Date.now();
    const r = await websocket.connect(url, headers, expr(want.within === undefined ? this.timeout : want.within, this.vars),
      {autoPong: step.autoPong});
    if (r.ws) {
      this.conns.set(step.as || 'ws', {kind: 'ws', ws: r.ws, ferry: step.ws.includes('/.ferry/')});
    }
    this.check(want, r, Date.now() - t0, r.ws ? undefined : step.save);
  }

  // send writes WebSocket frames.
  async send(step) {
    const c = this.conn(step.send, ['ws']);
    const v = this.vars;
    let op = websocket.OP.binary;
    let payload;
    if ('text' in step) {
      op = websocket.OP.text;
      payload = Buffer.from(gen(step.text, v));
    } else if ('textHex' in step) {
      op = websocket.OP.text;
      payload = hex(step.textHex, v);
    } else if ('binary' in step) {
      payload = hex(step.binary, v);
    } else if ('base64' in step) {
      payload = Buffer.from(gen(step.base64, v), 'base64');
    } else if ('control' in step) {
      payload = Buffer.concat([Buffer.from([1]), Buffer.from(gen(step.control, v))]);
    } else if ('close' in step) {
      op = websocket.OP.close;
      payload = closePayload(step.close, v);
    } else if ('ping' in step) {
      op = websocket.OP.ping;
      payload = hex(step.ping, v);
    } else {
      throw new Error('send what?');
    }
    const times = step.times === undefined ? 1 : expr(step.times, v);
    for (let i = 0; i < times; i++) {
      c.ws.send(op, payload);
    }
  }

  // read consumes what a stream or a WebSocket received (README.md, "read").
  async read(step) {
    const c = this.conn(step.read, ['stream', 'ws']);
    const deadline = this.deadline(step.within);
    const skip = step.skip || (c.kind === 'stream' || c.ferry ? ['h'] : []);
    const isWS = c.kind === 'ws';
    const items = isWS ? c.ws.items : c.items;
    const skippable = isWS ?
      (it) => it.type === 'ping' || skip.includes(controlKind(it)) :
      (it) => !it.error && it.seq === null && skip.includes(it.text[0]);
    const next = (d) => items.shift(d);
    const modes = ['frames', 'messages', 'raw', 'end', 'silence', 'close', 'ping'].filter((k) => k in step);
    if (modes.length !== 1) {
      throw new Error('a read needs exactly one of frames, messages, raw, end, silence, close, ping');
    }
    const mode = modes[0];
    let diff;
    switch (mode) {
      case 'frames':
      case 'messages':
        if ((mode === 'frames') === isWS) {
          throw new Error(`${mode} on a ${c.kind}`);
        }
        diff = await this.sequence(step, next, deadline, skippable, isWS);
        break;
      case 'raw':
        diff = await rawMatch(c, step.raw, deadline, this.vars);
        break;
      case 'silence':
        diff = await silence(next, Date.now() + expr(step.silence, this.vars), skippable, isWS);
        break;
      case 'end':
        diff = await until(next, deadline, (it) => it.type === 'end',
          (it) => skippable(it) || it.type === 'close', isWS, 'the end');
        break;
      case 'close':
        diff = await until(next, deadline, (it) => it.type === 'close', skippable, true, 'a close frame',
          (it) => closeDiff(step.close, it, this.vars));
        break;
      case 'ping':
        diff = await until(next, deadline, (it) => it.type === 'ping', skippable, true, 'a ping');
        break;
    }
    if (diff) {
      throw new Error(diff);
    }
  }

  async sequence(step, next, deadline, skippable, isWS) {
    const wants = expand(isWS ? step.messages : step.frames, this.vars);
    let saved = !step.save;
    const matches = (w, it) => {
      const d = isWS ? matchMessage(w, it, this.vars) : matchFrame(w, it, this.vars);
      if (d === null && !saved && w.json) {
        const text = isWS ? it.data.subarray(1).toString('utf8') : it.text;
        save(step.save, JSON.parse(text.slice(gen(isWS ? w.control : w.frame, this.vars).length)), this.vars);
        saved = true;
      }
      return d;
    };
    return consume(next, wants, deadline, {matches, skippable, describe: isWS ? describeMessage : describeFrame});
  }

  // cut drops a connection: a stream, a request in flight, a WebSocket.
  async cut(step) {
    const c = this.conn(step.cut);
    if (c.ws) {
      c.ws.destroy();
    } else {
      c.req.destroy();
    }
    this.conns.delete(step.cut);
    await delay(50); // let the server see it before the next step
  }

  async sleep(step) {
    await delay(expr(step.sleep, this.vars));
  }
}

function safeDescribe(step) {
  try {
    return describe(step);
  } catch (e) {
    return JSON.stringify(step).slice(0, 60);
  }
}

function readAll(res) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve({status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks)}));
    res.on('error', reject);
  });
}

function headerValue(headers, name) {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(', ') : v;
}

// checkError checks PROTOCOL.md §2's error response: text/plain, one line
// starting "ferry: " that contains want.
function checkError(want, r, text, vars) {
  const ct = headerValue(r.headers, 'Content-Type');
  if (!/^text\/plain; ?charset=utf-8$/i.test(ct || '')) {
    throw new Error(`error Content-Type ${show(ct)}, want text/plain; charset=utf-8`);
  }
  if (!/^ferry: [^\n]*\n?$/.test(text)) {
    throw new Error(`error body ${show(text)}: want one line starting "ferry: "`);
  }
  if (!text.includes(subst(want, vars))) {
    throw new Error(`error body ${show(text)}: want it to contain ${show(want)}`);
  }
}

function closePayload(spec, vars) {
  if ('payload' in spec) {
    return hex(spec.payload, vars);
  }
  if (spec.code === undefined) {
    return Buffer.alloc(0);
  }
  const reason = Buffer.from(gen(spec.reason || '', vars));
  const b = Buffer.alloc(2 + reason.length);
  b.writeUInt16BE(spec.code, 0);
  reason.copy(b, 2);
  return b;
}

function closeDiff(want, it, vars) {
  if (want.code !== undefined && it.code !== want.code) {
    return `close code ${it.code} ${show(it.reason)}, want ${want.code}`;
  }
  if (want.reason !== undefined) {
    const d = match(want.reason, it.reason, vars);
    return d && `close reason: ${d}`;
  }
  return null;
}

// until reads until done(item); other items must be skippable. check, if
// given, judges the item that ends the wait.
async function until(next, deadline, done, skippable, isWS, what, check) {
  for (;;) {
    const it = await next(deadline);
    if (it === null) {
      return `timed out waiting for ${what}`;
    }
    if (done(it)) {
      return check ? check(it) : null;
    }
    if (!skippable(it)) {
      return `${isWS ? describeMessage(it) : describeFrame(it)} before ${what}`;
    }
  }
}

// silence passes if nothing but skippable items arrives before deadline.
async function silence(next, deadline, skippable, isWS) {
  for (;;) {
    const it = await next(deadline);
    if (it === null) {
      return null;
    }
    if (!skippable(it)) {
      return `${isWS ? describeMessage(it) : describeFrame(it)} during the silence`;
    }
  }
}

// rawMatch waits until the raw bytes a stream received match m.
async function rawMatch(c, m, deadline, vars) {
  for (;;) {
    const d = match(m, c.raw, vars);
    if (d === null) {
      return null;
    }
    if (Date.now() >= deadline) {
      return `raw body: ${d}`;
    }
    await delay(10);
  }
}

module.exports = {Player, verb};
