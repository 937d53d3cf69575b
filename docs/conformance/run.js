#!/usr/bin/env node
'use strict';

// Plays the conformance vectors (docs/conformance/*.json) against a running
// Ferry server's echo service and prints one line per vector. Node 20,
// standard library only. See README.md in this folder.
//
//   node docs/conformance/run.js [--fast] [--only REGEX] [--dir DIR] [--jobs N] [--timeout MS] [URL]
//
// URL is the echo service, http://127.0.0.1:8080/echo by default; a URL
// without a path gets /echo. Exit status: 0 when every vector that is not
// pending passes, 1 otherwise, 2 on a usage or vector-file error.

const fs = require('node:fs');
const path = require('node:path');
const {Player, verb} = require('./lib/player');

const USAGE = 'usage: node run.js [--fast] [--only REGEX] [--dir DIR] [--jobs N] [--timeout MS] [URL]';

function parseArgs(argv) {
  const o = {url: 'http://127.0.0.1:8080/echo', dir: __dirname, fast: false, only: null, jobs: 8, timeout: 5000};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${a} needs a value`);
      }
      return argv[++i];
    };
    if (a === '--fast') {
      o.fast = true;
    } else if (a === '--only') {
      o.only = new RegExp(value());
    } else if (a === '--dir') {
      o.dir = value();
    } else if (a === '--jobs') {
      o.jobs = Math.max(1, Number(value()));
    } else if (a === '--timeout') {
      o.timeout = Number(value());
    } else if (a.startsWith('-')) {
      throw new Error(`unknown flag ${a}`);
    } else {
      o.url = a;
    }
  }
  const u = new URL(o.url);
  if (u.pathname === '/' || u.pathname === '') {
    o.url = u.origin + '/echo';
  }
  return o;
}

// load reads every vector file in this folder (all *.json but rules.json)
// and checks the vectors' shape and that their ids are unique.
function load(dir) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'rules.json').sort();
  const vectors = [];
  const seen = new Set();
  for (const f of files) {
    const doc = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    for (const v of doc.vectors) {
      if (!/^[a-z0-9-]+$/.test(v.id || '') || seen.has(v.id)) {
        throw new Error(`${f}: missing, malformed or duplicate vector id ${JSON.stringify(v.id)}`);
      }
      seen.add(v.id);
      for (const k of Object.keys(v)) {
        if (!['id', 'title', 'spec', 'pending', 'slow', 'heavy', 'note', 'steps'].includes(k)) {
          throw new Error(`${f}: ${v.id}: unknown key ${JSON.stringify(k)}`);
        }
      }
      v.steps.forEach((s, i) => {
        try {
          verb(s);
        } catch (e) {
          throw new Error(`${f}: ${v.id}: step ${i + 1}: ${e.message}`, {cause: e});
        }
      });
      vectors.push({...v, file: f});
    }
  }
  return vectors;
}

async function playOne(v, opts) {
  const t0 = Date.now();
  try {
    await new Player(opts.url, opts).play(v);
    return {ok: true, ms: Date.now() - t0};
  } catch (e) {
    return {ok: false, ms: Date.now() - t0, error: e.message};
  }
}

// line formats one vector's result; the status word comes first.
function line(v, r) {
  if (r.skipped) {
    return `skip          ${v.id} (slow; --fast)`;
  }
  const ms = `(${r.ms} ms)`;
  if (v.pending) {
    return r.ok ?
      `pending-pass  ${v.id} ${ms}: passes now; its pending mark (${v.pending}) can go` :
      `pending-fail  ${v.id} ${ms}: ${r.error} [pending: ${v.pending}]`;
  }
  return r.ok ? `pass          ${v.id} ${ms}` : `FAIL          ${v.id} ${ms}: ${r.error}`;
}

async function main() {
  let opts;
  let vectors;
  try {
    opts = parseArgs(process.argv.slice(2));
    vectors = load(opts.dir).filter((v) => !opts.only || opts.only.test(v.id));
  } catch (e) {
    console.error(`run.js: ${e.message}\n${USAGE}`);
    process.exit(2);
  }
  const results = new Array(vectors.length);
  // Slow vectors (timers of seconds) start first, so that they overlap.
  const order = vectors.map((v, i) => i).sort((a, b) => Number(!!vectors[b].slow) - Number(!!vectors[a].slow));
  let printed = 0;
  const flush = () => {
    while (printed < vectors.length && results[printed]) {
      console.log(line(vectors[printed], results[printed]));
      printed++;
    }
  };
  const t0 = Date.now();
  let heavy = Promise.resolve(); // heavy vectors (megabytes each) play one at a time
  const worker = async () => {
    while (order.length > 0) {
      const i = order.shift();
      const v = vectors[i];
      if (opts.fast && v.slow) {
        results[i] = {skipped: true};
      } else if (v.heavy) {
        const before = heavy;
        let done;
        heavy = new Promise((resolve) => {
          done = resolve;
        });
        await before;
        results[i] = await playOne(v, opts);
        done();
      } else {
        results[i] = await playOne(v, opts);
      }
      flush();
    }
  };
  await Promise.all(Array.from({length: opts.jobs}, worker));
  const count = (f) => vectors.filter((v, i) => f(v, results[i])).length;
  const passed = count((v, r) => !v.pending && r.ok);
  const failed = count((v, r) => !v.pending && !r.skipped && !r.ok);
  const skipped = count((v, r) => r.skipped);
  const pendingFail = count((v, r) => v.pending && !r.skipped && !r.ok);
  const pendingPass = count((v, r) => v.pending && !r.skipped && r.ok);
  console.log(`${opts.url}: ${vectors.length} vectors in ${((Date.now() - t0) / 1000).toFixed(1)} s; ` +
    `pending: ${pendingFail} still failing, ${pendingPass} passing (not counted below)`);
  console.log(`conformance: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
