#!/usr/bin/env node
'use strict';

// Checks that docs/conformance/rules.json covers docs/PROTOCOL.md: every
// sentence with MUST (or MUST NOT) in the document is a rule, every rule
// is still a sentence of the document, every rule names vectors that exist
// (or, for a rule on the client only, a client.js unit test that exists).
// Node, standard library only. See README.md in this folder.
//
//   node docs/conformance/check-rules.js           check; exit 1 on a finding
//   node docs/conformance/check-rules.js --list    print the MUST sentences

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');

// sentences splits a Markdown document into sentences with whitespace
// normalised: fenced code is dropped, and paragraphs, list items and table
// cells are split at a full stop, question or exclamation mark followed by
// a space and a character that is not a lower-case letter.
function sentences(md) {
  const blocks = [];
  let cur = [];
  let fenced = false;
  const flush = () => {
    if (cur.length > 0) {
      blocks.push(cur.join(' '));
    }
    cur = [];
  };
  for (const line of md.split('\n')) {
    if (/^\s*```/.test(line)) {
      fenced = !fenced;
      flush();
      continue;
    }
    if (fenced) {
      continue;
    }
    if (line.trim() === '' || /^#/.test(line)) {
      flush();
      if (/^#/.test(line)) {
        blocks.push(line.replace(/^#+\s*/, ''));
      }
      continue;
    }
    if (/^\s*\|/.test(line)) {
      flush();
      blocks.push(...line.split('|').map((c) => c.trim()).filter((c) => c !== '' && !/^-+$/.test(c)));
      continue;
    }
    if (/^\s*([-*]|\d+\.)\s/.test(line)) {
      flush();
      cur.push(line.replace(/^\s*([-*]|\d+\.)\s+/, ''));
      continue;
    }
    cur.push(line.trim());
  }
  flush();
  const out = [];
  for (const b of blocks) {
    const text = b.replace(/\s+/g, ' ').trim();
    out.push(...text.split(/(?<=[.!?])\s+(?=[^a-z\s])/).map((s) => s.trim()).filter(Boolean));
  }
  return out;
}

function mustSentences(md) {
  return sentences(md).filter((s) => /\bMUST\b/.test(s));
}

function vectorIds() {
  const ids = new Set();
  for (const f of fs.readdirSync(__dirname)) {
    if (f.endsWith('.json') && f !== 'rules.json') {
      for (const v of JSON.parse(fs.readFileSync(path.join(__dirname, f), 'utf8')).vectors) {
        ids.add(v.id);
      }
    }
  }
  return ids;
}

// clientTestSource is the text of client.js's unit tests, where the tests
// named by client-only rules must appear.
function clientTestSource() {
  const dir = path.join(ROOT, 'clientjs', 'test');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.test.js'))
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
}

function check() {
  const md = fs.readFileSync(path.join(ROOT, 'docs', 'PROTOCOL.md'), 'utf8');
  const {rules} = JSON.parse(fs.readFileSync(path.join(__dirname, 'rules.json'), 'utf8'));
  const musts = mustSentences(md);
  const ids = vectorIds();
  const tests = clientTestSource();
  const problems = [];
  const quoted = new Map();
  const seenIds = new Set();
  for (const r of rules) {
    if (seenIds.has(r.id)) {
      problems.push(`rule ${r.id}: duplicate id`);
    }
    seenIds.add(r.id);
    quoted.set(r.text, r);
    if (!musts.includes(r.text)) {
      problems.push(`rule ${r.id}: no longer a MUST sentence of PROTOCOL.md: ${JSON.stringify(r.text)}`);
    }
    const vectors = r.vectors || [];
    for (const v of vectors) {
      if (!ids.has(v)) {
        problems.push(`rule ${r.id}: no vector ${v}`);
      }
    }
    const clientTests = r.clientTests || [];
    for (const name of clientTests) {
      // A title is found as written in a test file, quoted with ', " or `.
      if (!tests.includes(name) && !tests.includes(name.replace(/'/g, "\\'"))) {
        problems.push(`rule ${r.id}: no client.js unit test named ${JSON.stringify(name)}`);
      }
    }
    if (r.client && !r.reason) {
      problems.push(`rule ${r.id}: a client-only rule needs a reason`);
    }
    const covered = vectors.length > 0 || (r.client && clientTests.length > 0) || r.definition;
    if (!covered) {
      problems.push(`rule ${r.id}: no vector${r.client ? ' and no client.js test' : ''}`);
    }
  }
  for (const s of musts) {
    if (!quoted.has(s)) {
      problems.push(`PROTOCOL.md sentence not in rules.json: ${JSON.stringify(s)}`);
    }
  }
  const withVectors = rules.filter((r) => (r.vectors || []).length > 0).length;
  const clientOnly = rules.filter((r) => r.client).length;
  for (const p of problems) {
    console.log(`FAIL ${p}`);
  }
  console.log(`rules: ${rules.length} MUST sentences, ${withVectors} with vectors, ${clientOnly} on the client only` +
    ` (${rules.filter((r) => r.client && !(r.vectors || []).length).length} of them covered by client.js tests alone)`);
  console.log(`check-rules: ${problems.length === 0 ? 1 : 0} passed, ${problems.length === 0 ? 0 : 1} failed`);
  process.exit(problems.length === 0 ? 0 : 1);
}

if (process.argv.includes('--list')) {
  const md = fs.readFileSync(path.join(ROOT, 'docs', 'PROTOCOL.md'), 'utf8');
  console.log(JSON.stringify(mustSentences(md), null, 2));
} else {
  check();
}

module.exports = {sentences, mustSentences};
