'use strict';

// Byte-level codecs: UTF-8, base64, frame escaping and parsing, and the
// event-stream parser.

const test = require('node:test');
const assert = require('node:assert/strict');
const {Ferry} = require('./helpers');

const I = Ferry._internal;

test('base64 of all 256 byte values matches RFC 4648', () => {
  const all = new Uint8Array(256).map((_, i) => i);
  const enc = I.base64Encode(all);
  assert.equal(enc, Buffer.from(all).toString('base64'));
  assert.deepEqual(Buffer.from(I.base64Decode(enc)), Buffer.from(all));
});

test('base64 round-trips every length from 0 to 40, and empty is empty', () => {
  assert.equal(I.base64Encode(new Uint8Array(0)), '');
  assert.equal(I.base64Decode('').length, 0);
  for (let n = 0; n <= 40; n++) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) {
      b[i] = (i * 97 + n * 31) & 255;
    }
    const enc = I.base64Encode(new Uint8Array(b));
    assert.equal(enc, b.toString('base64'), `length ${n}`);
    assert.deepEqual(Buffer.from(I.base64Decode(enc)), b, `length ${n}`);
  }
});

test('base64Decode rejects malformed input', () => {
  for (const bad of ['A', 'AB', 'ABC', 'A===', '====', 'AB=C', 'AB-_', 'ABCD\n', 'AB C', '\u00e9ABC']) {
    assert.throws(() => I.base64Decode(bad), undefined, JSON.stringify(bad));
  }
});

test('base64 of a large buffer', () => {
  const b = Buffer.alloc(100003);
  for (let i = 0; i < b.length; i++) {
    b[i] = (i * 7919) & 255;
  }
  const enc = I.base64Encode(new Uint8Array(b));
  assert.equal(enc, b.toString('base64'));
  assert.deepEqual(Buffer.from(I.base64Decode(enc)), b);
});

test('UTF-8 encode and length match Buffer, lone surrogates as U+FFFD', () => {
  const cases = ['', 'a', 'h\u00e9llo', '\u20ac', '\ud83d\ude00', 'x\ud800y', '\udc00', 'end\ud83d',
    '\u0000\u2028\r\n\\', 'a'.repeat(1000) + '\u00ff'];
  for (const s of cases) {
    const want = Buffer.from(s, 'utf8');
    assert.deepEqual(Buffer.from(I.utf8Encode(s)), want, JSON.stringify(s));
    assert.equal(I.utf8Length(s), want.length, JSON.stringify(s));
  }
});

test('UTF-8 decode without TextDecoder matches TextDecoder', () => {
  const inputs = [
    [], [0x61], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80],
    [0xff], [0xc3], [0xe2, 0x82], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
    [0x61, 0x80, 0x62], [0xf0, 0x9f, 0x98]
  ];
  const td = new TextDecoder('utf-8');
  for (const bytes of inputs) {
    const u8 = new Uint8Array(bytes);
    const got = I.utf8Decode(u8, 0, null);
    assert.equal(got.replace(/\ufffd+/g, '\ufffd'), td.decode(u8).replace(/\ufffd+/g, '\ufffd'), bytes.join(','));
  }
  const text = 'mixed \u00e9 \u20ac \ud83d\ude00 ' + 'z'.repeat(20000);
  assert.equal(I.utf8Decode(I.utf8Encode(text), 0, null), text);
  assert.equal(I.utf8Decode(new Uint8Array([1, 0x68, 0x69]), 1, null), 'hi');
});

test('escaping turns backslash, CR and LF into two-character escapes only', () => {
  const cases = [
    ['', ''], ['plain', 'plain'], ['a\\b', 'a\\\\b'], ['\r', '\\r'], ['\n', '\\n'],
    ['\r\n\n\r', '\\r\\n\\n\\r'], ['\\n', '\\\\n'], ['data: x', 'data: x'],
    ['\u0000\u2028\ud83d\ude00:', '\u0000\u2028\ud83d\ude00:']
  ];
  for (const [raw, esc] of cases) {
    assert.equal(I.escapeText(raw), esc);
    assert.equal(I.unescapeText(esc), raw);
    assert.doesNotMatch(I.escapeText(raw), /[\r\n]/);
  }
});

test('unescape rejects malformed escapes and raw line breaks', () => {
  for (const bad of ['\\', 'a\\', '\\x', '\\t', 'a\rb', 'a\nb']) {
    assert.throws(() => I.unescapeText(bad), undefined, JSON.stringify(bad));
  }
});

test('parseSequenced reads t, b and c frames', () => {
  assert.deepEqual(I.parseSequenced('thello\\nworld'), {kind: 't', data: 'hello\nworld', size: 11});
  assert.deepEqual(I.parseSequenced('t'), {kind: 't', data: '', size: 0});
  const b = I.parseSequenced('b3q2+7w==');
  assert.equal(b.kind, 'b');
  assert.deepEqual(Buffer.from(b.data), Buffer.from('3q2+7w==', 'base64'));
  assert.equal(I.parseSequenced('b').data.length, 0);
  assert.deepEqual(I.parseSequenced('c1000'), {kind: 'c', code: 1000, reason: '', size: 0});
  assert.deepEqual(I.parseSequenced('c4001 bye\\r\\nnow'), {kind: 'c', code: 4001, reason: 'bye\r\nnow', size: 0});
  assert.deepEqual(I.parseSequenced('c'), {kind: 'c', code: 1005, reason: '', size: 0});
  for (const bad of ['x', 'c01000', 'c1000x', 'b@@@@', 't\\q']) {
    assert.throws(() => I.parseSequenced(bad), undefined, bad);
  }
});

test('frameLine writes the text form of outgoing frames', () => {
  assert.equal(I.frameLine({kind: 't', data: 'a\r\nb\\'}), 't' + 'a\\r\\nb\\\\');
  assert.equal(I.frameLine({kind: 'b', data: new Uint8Array([0, 255])}), 'bAP8=');
  assert.equal(I.frameLine({kind: 'b', data: new Uint8Array(0)}), 'b');
  assert.equal(I.frameLine({kind: 'c', code: 1000, reason: ''}), 'c1000');
  assert.equal(I.frameLine({kind: 'c', code: 1005, reason: ''}), 'c');
  assert.equal(I.frameLine({kind: 'c', code: 3001, reason: 'x\ny'}), 'c3001 x\\ny');
  const f = {kind: 't', data: '\u00e9'};
  I.frameLine(f);
  assert.equal(f.lineBytes, 3);
});

test('parseNumber accepts protocol decimals only', () => {
  assert.equal(I.parseNumber('0'), 0);
  assert.equal(I.parseNumber('42'), 42);
  assert.equal(I.parseNumber('9007199254740991'), 9007199254740991);
  for (const bad of ['', '-1', '+1', '01', '1.5', '1e3', ' 1', '9007199254740992', '12345678901234567']) {
    assert.equal(I.parseNumber(bad), -1, bad);
  }
});

function parseAll(chunks) {
  const events = [];
  const p = new I.StreamParser((data, id, hadId) => events.push([data, id, hadId]));
  for (const c of chunks) {
    p.feed(c);
  }
  return events;
}

test('event-stream parser: LF, CR and CRLF line ends, comments, ids, multi-line data', () => {
  const stream = ':' + ' '.repeat(2048) + '\n\nretry: 1000\ndata: o{}\n\nid: 7\ndata: thello\r\n\r\n' +
    'id: 8\rdata: b3q2+7w==\r\rdata: h\n\ndata:a\ndata:b\n\nevent: x\ndata\n\n';
  const want = [['o{}', '', false], ['thello', '7', true], ['b3q2+7w==', '8', true], ['h', '8', false],
    ['a\nb', '8', false], ['', '8', false]];
  assert.deepEqual(parseAll([stream]), want);
  // Every split point, including between CR and LF, gives the same events.
  for (let i = 0; i <= stream.length; i++) {
    assert.deepEqual(parseAll([stream.slice(0, i), stream.slice(i)]), want, `split at ${i}`);
  }
  // One character at a time.
  assert.deepEqual(parseAll(stream.split('')), want);
});

test('event-stream parser keeps an incomplete event until its blank line', () => {
  assert.deepEqual(parseAll(['id: 1\ndata: tx\n']), []);
  assert.deepEqual(parseAll(['id: 1\ndata: tx\n', '\n']), [['tx', '1', true]]);
  assert.deepEqual(parseAll(['data: t\u2028\u0000:x\n\n']), [['t\u2028\u0000:x', '', false]]);
});
