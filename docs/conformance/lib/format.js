'use strict';

// The data rules of the vector format (README.md): variables, expressions,
// generated strings, matchers, JSON subsets, and the frame syntax of
// PROTOCOL.md §3 and §5.1 as it appears in event streams and poll bodies.
// Pure functions: run.js does the I/O.

const VAR = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

// subst replaces every {name} in s with the variable's value.
function subst(s, vars) {
  return s.replace(VAR, (_, name) => {
    if (!Object.prototype.hasOwnProperty.call(vars, name)) {
      throw new Error(`undefined variable {${name}}`);
    }
    return String(vars[name]);
  });
}

// expr evaluates a number, or a string of integers, variables, + - * /
// and parentheses (integer arithmetic; / truncates).
function expr(e, vars) {
  if (typeof e === 'number') {
    return e;
  }
  const toks = subst(String(e), vars).match(/\d+|\S/g) || [];
  let i = 0;
  const atom = () => {
    const t = toks[i++];
    if (t === '(') {
      const v = sum();
      if (toks[i++] !== ')') {
        throw new Error(`expression ${JSON.stringify(e)}: missing )`);
      }
      return v;
    }
    if (t === '-') {
      return -atom();
    }
    if (!/^\d+$/.test(t || '')) {
      throw new Error(`expression ${JSON.stringify(e)}: unexpected ${t === undefined ? 'end' : t}`);
    }
    return Number(t);
  };
  const product = () => {
    let v = atom();
    while (toks[i] === '*' || toks[i] === '/') {
      v = toks[i++] === '*' ? v * atom() : Math.trunc(v / atom());
    }
    return v;
  };
  const sum = () => {
    let v = product();
    while (toks[i] === '+' || toks[i] === '-') {
      v = toks[i++] === '+' ? v + product() : v - product();
    }
    return v;
  };
  const v = sum();
  if (i !== toks.length) {
    throw new Error(`expression ${JSON.stringify(e)}: unexpected ${toks[i]}`);
  }
  return v;
}

// gen builds a generated string: a string, or an array of strings and
// {"repeat": s, "times": expr} parts, concatenated. Variables are
// substituted in the parts, not in the result.
function gen(g, vars) {
  if (typeof g === 'string') {
    return subst(g, vars);
  }
  if (!Array.isArray(g)) {
    throw new Error(`not a generated string: ${JSON.stringify(g)}`);
  }
  return g.map((p) => (typeof p === 'string' ? subst(p, vars) : subst(p.repeat, vars).repeat(expr(p.times, vars)))).join('');
}

// hex decodes a generated hex string.
function hex(g, vars) {
  const s = gen(g, vars).replace(/\s+/g, '');
  if (s.length % 2 !== 0 || /[^0-9a-fA-F]/.test(s)) {
    throw new Error(`bad hex: ${short(s)}`);
  }
  return Buffer.from(s, 'hex');
}

function isMatcher(m) {
  if (m === null || typeof m !== 'object' || Array.isArray(m)) {
    return false;
  }
  const keys = Object.keys(m);
  return keys.length === 1 && ['regex', 'prefix', 'not', 'absent', 'type'].includes(keys[0]);
}

// match compares a value with a matcher: a generated string (exact), or
// {"regex": r}, {"prefix": g}, {"not": m}, {"absent": true} or
// {"type": "number"|"string"|...}. It returns null when it matches, else
// what differs.
function match(m, actual, vars) {
  if (isMatcher(m)) {
    if ('absent' in m) {
      return (actual === undefined) === m.absent ? null : `got ${show(actual)}, want ${m.absent ? 'absent' : 'present'}`;
    }
    if ('type' in m) {
      const t = Array.isArray(actual) ? 'array' : actual === null ? 'null' : typeof actual;
      return t === m.type ? null : `got ${show(actual)}, want a ${m.type}`;
    }
    if ('not' in m) {
      return match(m.not, actual, vars) === null ? `got ${show(actual)}, want anything else` : null;
    }
    if ('prefix' in m) {
      const want = gen(m.prefix, vars);
      return typeof actual === 'string' && actual.startsWith(want) ? null : `got ${show(actual)}, want it to start with ${show(want)}`;
    }
    if (actual === undefined) {
      return `absent, want /${m.regex}/`;
    }
    return new RegExp(subst(m.regex, vars)).test(String(actual)) ? null : `got ${show(actual)}, want /${m.regex}/`;
  }
  const want = gen(m, vars);
  return actual === want ? null : `got ${show(actual)}, want ${show(want)}`;
}

// subset compares JSON: every member of an expected object must match
// (matchers allowed), arrays element by element with equal lengths.
function subset(want, got, vars, path = '') {
  if (isMatcher(want)) {
    const d = match(want, got, vars);
    return d && `${path || 'value'}: ${d}`;
  }
  if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) {
      return `${path || 'value'}: got ${show(got)}, want ${show(want)}`;
    }
    for (let i = 0; i < want.length; i++) {
      const d = subset(want[i], got[i], vars, `${path}[${i}]`);
      if (d) {
        return d;
      }
    }
    return null;
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) {
      return `${path || 'value'}: got ${show(got)}, want an object`;
    }
    for (const k of Object.keys(want)) {
      const d = subset(want[k], got[k], vars, path ? `${path}.${k}` : k);
      if (d) {
        return d;
      }
    }
    return null;
  }
  const w = typeof want === 'string' ? subst(want, vars) : want;
  return got === w ? null : `${path || 'value'}: got ${show(got)}, want ${show(w)}`;
}

// lookup follows a dotted path into a JSON value.
function lookup(obj, path) {
  return path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

// save sets variables from a JSON value: {"var": "dotted.path"}.
function save(spec, obj, vars) {
  for (const [name, path] of Object.entries(spec || {})) {
    const v = lookup(obj, path);
    if (v === undefined) {
      throw new Error(`save ${name}: no ${path} in ${show(obj)}`);
    }
    vars[name] = v;
  }
}

function short(s, n = 80) {
  s = String(s);
  return s.length > n ? `${s.slice(0, n)}...(${s.length} chars)` : s;
}

function show(v) {
  return v === undefined ? 'nothing' : short(typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v));
}

// EventStream parses the WHATWG event-stream format incrementally and
// turns each event into frames (PROTOCOL.md §5.1): {seq, text} for
// sequenced frames (t, b, c), numbered from the event's id, and
// {seq: null, text} for the others. A Ferry event that breaks the id rules
// yields {error}.
class EventStream {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.buf = '';
    this.data = [];
    this.id = null; // the id field of the event being read
    this.decoder = new (require('node:string_decoder').StringDecoder)('utf8');
  }

  feed(chunk) {
    this.buf += this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const m = /\r\n|\r|\n/g;
      m.lastIndex = start;
      const r = m.exec(this.buf);
      // A CR at the very end may be the first half of a CRLF.
      if (!r || (r[0] === '\r' && r.index === this.buf.length - 1)) {
        break;
      }
      this.line(this.buf.slice(start, r.index));
      start = r.index + r[0].length;
    }
    this.buf = this.buf.slice(start);
  }

  // end flushes a final line; an event without its blank line is dropped,
  // as the format says.
  end() {
    this.buf += this.decoder.end();
    if (this.buf !== '') {
      this.line(this.buf.replace(/\r$/, ''));
    }
    this.buf = '';
  }

  line(l) {
    if (l === '') {
      this.dispatch();
      return;
    }
    if (l[0] === ':') {
      return;
    }
    const c = l.indexOf(':');
    const field = c < 0 ? l : l.slice(0, c);
    let value = c < 0 ? '' : l.slice(c + 1);
    if (value[0] === ' ') {
      value = value.slice(1);
    }
    if (field === 'data') {
      this.data.push(value);
    } else if (field === 'id' && !value.includes('\0')) {
      this.id = value;
    }
  }

  dispatch() {
    const data = this.data;
    const id = this.id;
    this.data = [];
    this.id = null;
    if (data.length === 0) {
      return;
    }
    for (const f of eventFrames(data.join('\n').split('\n'), id)) {
      this.onFrame(f);
    }
  }
}

// eventFrames numbers an event's frames from its id.
function eventFrames(lines, id) {
  const count = lines.filter(isSequenced).length;
  if (count === 0) {
    return id === null ? lines.map((text) => ({seq: null, text})) : [{error: `event with id ${id} has no sequenced frame`}];
  }
  if (id === null || !/^(0|[1-9]\d*)$/.test(id)) {
    return [{error: `event with ${count} sequenced frames has id ${JSON.stringify(id)}`}];
  }
  let seq = Number(id) - count + 1;
  return lines.map((text) => (isSequenced(text) ? {seq: seq++, text} : {seq: null, text}));
}

function isSequenced(text) {
  return text[0] === 't' || text[0] === 'b' || text[0] === 'c';
}

// parseFrames parses a whole body in event-stream syntax.
function parseFrames(body) {
  const frames = [];
  const es = new EventStream((f) => frames.push(f));
  es.feed(Buffer.from(body));
  es.end();
  return frames;
}

module.exports = {subst, expr, gen, hex, match, subset, save, short, show, EventStream, parseFrames};
