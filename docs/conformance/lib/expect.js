'use strict';

// Expected sequences (README.md, "Frames" and "Messages"): how an expected
// frame or WebSocket message is written, how it matches a received one,
// and consume, which reads items in order, allowing skippable ones.

const {expr, gen, hex, match, subset, short} = require('./format');

// expand turns a list of expectations into single items, unrolling
// {"repeat": item, "times": n, "from": seq}.
function expand(list, vars) {
  const out = [];
  for (const e of list) {
    if (e !== null && typeof e === 'object' && 'repeat' in e && 'times' in e) {
      const times = expr(e.times, vars);
      const from = e.from === undefined ? null : expr(e.from, vars);
      for (let i = 0; i < times; i++) {
        const one = typeof e.repeat === 'string' ? {frame: e.repeat} : {...e.repeat};
        if (from !== null) {
          one.seq = from + i;
        }
        out.push(one);
      }
    } else {
      out.push(e);
    }
  }
  return out;
}

// A frame expectation: "#N text" (sequenced frame number N), "text" (an
// unsequenced frame), or {"frame": M, "seq": N, "json": {...}}.
function frameWant(f, vars) {
  if (typeof f === 'string') {
    const m = /^#(\d+) ([\s\S]*)$/.exec(f);
    return m ? {seq: Number(m[1]), frame: m[2]} : {seq: null, frame: f};
  }
  return {...f, seq: f.seq === undefined ? undefined : f.seq === null ? null : expr(f.seq, vars)};
}

function matchFrame(f, item, vars) {
  if (item.error) {
    return item.error;
  }
  const want = frameWant(f, vars);
  if (want.seq !== undefined && item.seq !== want.seq) {
    return want.seq === null ? 'a sequenced frame' : `number ${item.seq === null ? 'none' : item.seq}, want ${want.seq}`;
  }
  return matchText(want, item.text, vars);
}

// matchText matches a frame's text, or its kind prefix and JSON rest.
function matchText(want, text, vars) {
  if (!want.json) {
    return match(want.frame, text, vars);
  }
  const kind = gen(want.frame, vars);
  if (!text.startsWith(kind)) {
    return `got ${short(JSON.stringify(text))}, want a ${kind} frame`;
  }
  let obj;
  try {
    obj = JSON.parse(text.slice(kind.length));
  } catch (e) {
    return `${kind} frame: ${e.message}`;
  }
  return subset(want.json, obj, vars);
}

function describeFrame(item) {
  if (item.error) {
    return item.error;
  }
  if (item.type === 'end') {
    return 'end of response';
  }
  return short((item.seq === null ? '' : `#${item.seq} `) + JSON.stringify(item.text));
}

// A message expectation on a WebSocket: {"text": M}, {"binary": hex},
// {"base64": s}, {"control": M} (a binary message 0x01 + M), optionally
// with "json" as for frames.
function matchMessage(w, item, vars) {
  if (item.type === 'error') {
    return item.message;
  }
  if ('text' in w) {
    return item.type === 'text' ? match(w.text, item.data.toString('utf8'), vars) : 'want a text message';
  }
  if (item.type !== 'binary') {
    return 'want a binary message';
  }
  if ('binary' in w || 'base64' in w) {
    const want = 'binary' in w ? hex(w.binary, vars) : Buffer.from(gen(w.base64, vars), 'base64');
    return want.equals(item.data) ? null : `want binary ${short(want.toString('hex'))}`;
  }
  if ('control' in w) {
    if (item.data[0] !== 1) {
      return 'want a control message (0x01)';
    }
    return matchText({frame: w.control, json: w.json}, item.data.subarray(1).toString('utf8'), vars);
  }
  throw new Error(`bad message expectation ${JSON.stringify(w)}`);
}

function describeMessage(item) {
  switch (item.type) {
    case 'text':
      return short(`text ${JSON.stringify(item.data.toString('utf8'))}`);
    case 'binary':
      return item.data[0] === 1 ?
        short(`control ${JSON.stringify(item.data.subarray(1).toString('utf8'))}`) :
        short(`binary ${item.data.toString('hex')}`);
    case 'close':
      return `close ${item.code} ${JSON.stringify(item.reason)}`;
    case 'end':
      return 'end of connection';
    default:
      return item.message || item.type;
  }
}

// controlKind returns the kind letter of a control message, or null.
function controlKind(item) {
  return item.type === 'binary' && item.data[0] === 1 && item.data.length > 1 ? String.fromCharCode(item.data[1]) : null;
}

// consume reads items with next(deadline) until each expectation has
// matched one, in order. An item that does not match the next expectation
// is dropped if skippable(item), else it is the difference reported.
async function consume(next, wants, deadline, {matches, skippable, describe}) {
  for (let i = 0; i < wants.length; i++) {
    for (;;) {
      const item = await next(deadline);
      if (item === null) {
        return `timed out waiting for item ${i + 1} of ${wants.length}: ${short(JSON.stringify(wants[i]))}`;
      }
      const diff = matches(wants[i], item);
      if (diff === null) {
        break;
      }
      if (!skippable(item)) {
        return `item ${i + 1}: ${describe(item)}: ${diff}`;
      }
    }
  }
  return null;
}

module.exports = {expand, matchFrame, describeFrame, matchMessage, describeMessage, controlKind, consume};
