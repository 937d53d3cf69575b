/*
 * Pages for the network-fault tests (chaos_test.go, idle_test.go). Go
 * drives them with Chaos.* and Idle.* and polls their state(), which
 * returns a JSON string.
 *
 * Chaos: one Ferry.WebSocket exchanges n numbered messages each way with
 * the test service while the fault proxy breaks its connections; both
 * sides check that every message arrives once, in order and intact.
 * payload(dir, i) must match payload in chaos_test.go byte for byte.
 *
 * Idle: one Ferry.WebSocket stays idle behind an idle-cutting proxy; the
 * browser objects Ferry uses underneath are wrapped (through the env
 * option) to count the carriers the network broke.
 */
(function (root) {
  'use strict';

  // TOKENS are the pieces of text payloads: line breaks, escapes and
  // event-stream syntax that break naive framing, and non-ASCII.
  var TOKENS = ['a', 'bc', '\r', '\n', '\r\n', '\\', '\\n', '\u00e9', '\ud83d\ude00', 'data: x',
    'id: 9', ':', ' ', '\u2028', '\u0000'];

  // mix is a 32-bit hash of (a, b); mix in chaos_test.go is the same.
  function mix(a, b) {
    var x = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 1, 0x85ebca77)) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    x = Math.imul(x, 0x2c1b3c6d) >>> 0;
    x = (x ^ (x >>> 12)) >>> 0;
    x = Math.imul(x, 0x297a2d39) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    return x;
  }

  // payload returns message i of direction dir (0 up, 1 down): a string,
  // or a Uint8Array whose first 4 bytes are i (big-endian) and the fifth
  // dir.
  function payload(dir, i) {
    var n, k, s, u8;
    if (mix(i, dir) % 3 === 0) {
      n = mix(i, dir + 2) % 48;
      u8 = new Uint8Array(5 + n);
      u8[0] = (i >>> 24) & 255;
      u8[1] = (i >>> 16) & 255;
      u8[2] = (i >>> 8) & 255;
      u8[3] = i & 255;
      u8[4] = dir;
      for (k = 0; k < n; k++) {
        u8[5 + k] = mix(i, 200 + k) & 255;
      }
      return u8;
    }
    s = (dir ? 'd' : 'u') + i + ':';
    n = mix(i, dir + 4) % 24;
    for (k = 0; k < n; k++) {
      s += TOKENS[mix(i, 100 + k) % TOKENS.length];
    }
    return s;
  }

  // seqOf returns the number a received message claims, or -1.
  function seqOf(data) {
    var m, u8;
    if (typeof data === 'string') {
      m = /^d([0-9]+):/.exec(data);
      return m ? +m[1] : -1;
    }
    u8 = new Uint8Array(data);
    return u8.length >= 5 ? ((u8[0] << 24) >>> 0) + (u8[1] << 16) + (u8[2] << 8) + u8[3] : -1;
  }

  function same(data, want) {
    var u8, i;
    if (typeof want === 'string') {
      return data === want;
    }
    if (typeof data === 'string') {
      return false;
    }
    u8 = new Uint8Array(data);
    if (u8.length !== want.length) {
      return false;
    }
    for (i = 0; i < u8.length; i++) {
      if (u8[i] !== want[i]) {
        return false;
      }
    }
    return true;
  }

  function short(data) {
    if (typeof data === 'string') {
      return JSON.stringify(data.slice(0, 60));
    }
    return 'binary ' + data.byteLength + ' bytes';
  }

  // --- Chaos -----------------------------------------------------------

  var chaos = null;

  // noteTransport records a change of ws.transport.
  function noteTransport(st, ws) {
    var t = ws.transport;
    if (t && st.transports[st.transports.length - 1] !== t) {
      st.transports.push(t);
    }
  }

  var Chaos = {
    payload: payload,

    // start opens the socket: o.url, o.transports, o.n, and the client
    // options o.backoff, o.maxBackoff, o.maxBatchBytes, o.requestTimeout.
    start: function (o) {
      var st = {
        n: o.n, opened: 0, sent: 0, next: 0, received: 0, lost: 0, duplicated: 0, reordered: 0,
        corrupt: 0, firstProblem: '', errorsBefore: 0, closesBefore: 0, closing: false,
        close: null, transports: [], maxBuffered: 0, done: false
      };
      var ws = new root.Ferry.WebSocket(o.url, [], {
        transports: o.transports, backoff: o.backoff, maxBackoff: o.maxBackoff, maxBatchBytes: o.maxBatchBytes,
        requestTimeout: o.requestTimeout, remember: false
      });
      chaos = {st: st, ws: ws, o: o, going: false};
      ws.binaryType = 'arraybuffer';
      ws.onopen = function () {
        st.opened++;
        noteTransport(st, ws);
      };
      ws.onmessage = function (e) {
        var seq = seqOf(e.data);
        st.received++;
        noteTransport(st, ws);
        if (seq === st.next) {
          if (!same(e.data, payload(1, seq))) {
            st.corrupt++;
            st.firstProblem = st.firstProblem || 'message ' + seq + ' corrupt: ' + short(e.data);
          }
          st.next++;
        } else if (seq >= 0 && seq < st.next) {
          st.duplicated++;
          st.firstProblem = st.firstProblem || 'message ' + seq + ' again after ' + (st.next - 1);
        } else if (seq > st.next) {
          st.lost += seq - st.next;
          st.reordered++;
          st.firstProblem = st.firstProblem || 'message ' + seq + ' where ' + st.next + ' was due';
          st.next = seq + 1;
        } else {
          st.corrupt++;
          st.firstProblem = st.firstProblem || 'unnumbered message ' + short(e.data);
        }
      };
      ws.onerror = function () {
        if (!st.closing) {
          st.errorsBefore++;
        }
      };
      ws.onclose = function (e) {
        if (!st.closing) {
          st.closesBefore++;
        }
        st.close = {code: e.code, reason: e.reason, wasClean: e.wasClean};
        st.done = true;
        clearInterval(chaos.timer);
      };
      chaos.timer = setInterval(Chaos.tick, 50);
    },

    // go starts sending: the Go side calls it once the faults are on.
    go: function () {
      chaos.going = true;
      Chaos.pump();
    },

    // pump sends while less than 64 KiB waits for the server's
    // acknowledgement, then comes back.
    pump: function () {
      var c = chaos, st = c.st, ws = c.ws;
      if (!c.going || st.closing || ws.readyState !== 1) {
        return;
      }
      while (st.sent < st.n && ws.bufferedAmount < 65536) {
        ws.send(payload(0, st.sent++));
      }
      st.maxBuffered = Math.max(st.maxBuffered, ws.bufferedAmount);
      noteTransport(st, ws);
    },

    // tick keeps sending and closes (1000) once everything went both ways.
    tick: function () {
      var c = chaos, st = c.st, ws = c.ws;
      Chaos.pump();
      if (c.going && !st.closing && st.sent === st.n && st.next >= st.n && ws.bufferedAmount === 0) {
        st.closing = true;
        ws.close(1000, 'done');
      }
    },

    // debug describes the client's internals, for failure reports only.
    debug: function () {
      try {
        var s = chaos.ws._ferry.session, c = s.carrier, k, timers = [];
        for (k in s.t.ids) {
          if (Object.prototype.hasOwnProperty.call(s.t.ids, k)) {
            timers.push(k);
          }
        }
        return JSON.stringify({
          phase: s.phase, recv: s.recv, ackSent: s.ackSent, nextSeq: s.nextSeq, queued: s.queue.length,
          firstQueued: s.queue.length ? s.queue[0].seq : 0, buffered: s.buffered, post: !!s.post,
          postFails: s.postFails, tries: s.tries, attempt: s.attempt, cands: s.cands, candIdx: s.candIdx,
          carrier: c ? {name: c.name, up: c.up, dead: c.dead, sent: c.sent} : null, timers: timers
        });
      } catch (e) {
        return 'unavailable: ' + e;
      }
    },

    state: function () {
      var st = chaos ? chaos.st : {};
      if (chaos) {
        st.buffered = chaos.ws.bufferedAmount;
        st.transport = chaos.ws.transport;
      }
      return JSON.stringify(st);
    }
  };

  // --- Idle ------------------------------------------------------------

  var idle = null;

  // wrapEnv returns env overrides that build the browser's own WebSocket,
  // EventSource and XMLHttpRequest, counting in counts every one the
  // network broke: a WebSocket that closed or an EventSource that failed
  // while Ferry still listened to it, an XMLHttpRequest that ended with a
  // network error (Ferry's own aborts are not errors).
  function wrapEnv(counts) {
    var NWS = root.WebSocket, NES = root.EventSource, NXHR = root.XMLHttpRequest;
    function WS(url, protocols) {
      var ws = protocols === undefined ? new NWS(url) : new NWS(url, protocols);
      counts.websockets++;
      ws.addEventListener('close', function () {
        if (ws.onclose) {
          counts.websocketDrops++;
        }
      });
      return ws;
    }
    function ES(url, init) {
      var es = new NES(url, init);
      counts.eventSources++;
      es.addEventListener('error', function () {
        if (es.onerror) {
          counts.eventSourceErrors++;
        }
      });
      return es;
    }
    function XHR() {
      var x = new NXHR();
      counts.requests++;
      x.addEventListener('error', function () {
        counts.requestErrors++;
      });
      return x;
    }
    return {WebSocket: WS, EventSource: ES, XMLHttpRequest: XHR};
  }

  var Idle = {
    // start opens o.url on o.transports and echoes one message.
    start: function (o) {
      var counts = {websockets: 0, websocketDrops: 0, eventSources: 0, eventSourceErrors: 0, requests: 0, requestErrors: 0};
      var st = {opened: 0, errors: 0, closes: 0, close: null, transports: [], echoes: [], counts: counts, closing: false};
      var ws = new root.Ferry.WebSocket(o.url, [], {transports: o.transports, remember: false, env: wrapEnv(counts)});
      idle = {st: st, ws: ws};
      ws.binaryType = 'arraybuffer';
      ws.onopen = function () {
        st.opened++;
        noteTransport(st, ws);
      };
      ws.onmessage = function (e) {
        noteTransport(st, ws);
        st.echoes.push(String(e.data));
      };
      ws.onerror = function () {
        st.errors++;
      };
      ws.onclose = function (e) {
        st.closes++;
        st.close = {code: e.code, reason: e.reason, wasClean: e.wasClean};
      };
    },

    send: function (text) {
      noteTransport(idle.st, idle.ws);
      idle.ws.send(text);
    },

    close: function () {
      idle.st.closing = true;
      idle.ws.close(1000, 'done');
    },

    state: function () {
      idle.st.transport = idle.ws.transport;
      idle.st.readyState = idle.ws.readyState;
      return JSON.stringify(idle.st);
    }
  };

  root.Chaos = Chaos;
  root.Idle = Idle;
}(this));
