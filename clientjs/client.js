/*!
 * Ferry client: the standard WebSocket API over every network.
 *
 * new Ferry.WebSocket(url, protocols, options) behaves like the browser's
 * WebSocket. Underneath it carries one logical session over a resumable
 * Ferry WebSocket, or an event stream plus POSTs, or long-polling plus
 * POSTs (docs/PROTOCOL.md), moving between them without losing,
 * duplicating or reordering a message.
 *
 * One dependency-free ES5 file. Sections:
 *   1. constants and configuration      6. HTTP requests
 *   2. environment and timers           7. transports (websocket, sse, longpoll)
 *   3. bytes: UTF-8, base64, frames     8. Session: the reliable channel
 *   4. URLs and subprotocols            9. Ferry.WebSocket: the W3C surface
 *   5. events and event streams        10. Ferry: install, configure
 */
(function (root, factory) {
  'use strict';
  var Ferry = factory(root);
  if (typeof module === 'object' && module && module.exports) {
    module.exports = Ferry;
  } else {
    root.Ferry = Ferry;
  }
}(typeof self !== 'undefined' ? self : typeof window !== 'undefined' ? window : typeof globalThis !== 'undefined' ? globalThis : this, function (root) {
  'use strict';

  // ---------------------------------------------------------------------
  // 1. Constants and configuration
  // ---------------------------------------------------------------------

  var VERSION = '0.1.0';
  var CONNECTING = 0;
  var OPEN = 1;
  var CLOSING = 2;
  var CLOSED = 3;

  var ABNORMAL = 1006;
  var MAX_REASON_BYTES = 123;
  var MAX_NUMBER = 9007199254740991; // 2^53 - 1

  // Defaults for every option; Ferry.configure changes them.
  var config = {
    transports: ['websocket', 'sse', 'longpoll'],
    connectTimeout: 4000, // a Ferry WebSocket must deliver its "o" frame by then
    firstEventTimeout: 3000, // an event stream must deliver its "o" event by then
    requestTimeout: 30000, // POST open and send
    backoff: 250, // first resume delay after a failure, doubled up to maxBackoff
    maxBackoff: 5000,
    stableAfter: 5000, // a carrier up this long resets the backoff
    maxBatchBytes: 0, // 0: up to the server's maxBodyBytes
    remember: true, // keep the transport that worked in sessionStorage
    withCredentials: false, // cookies on cross-origin HTTP requests
    eventSource: true, // use EventSource when present (else fetch or XHR streaming)
    fetchStream: 'auto', // read event streams with fetch (see streamReader): true, false or 'auto'
    env: {}
  };

  // Server parameters assumed until the session's "o" frame says otherwise.
  var DEFAULT_INFO = {
    heartbeatMs: 25000,
    resumeTimeoutMs: 30000,
    maxMessageBytes: 16777216,
    maxBodyBytes: 22373716,
    maxBodyFrames: 0, // 0: the server did not say (no limit)
    windowBytes: 1048576,
    windowMessages: 0, // 0: the server did not say (acknowledge as before windowMessages)
    inboundBytes: 0 // credit on a Ferry WebSocket; 0: no limit
  };

  // The protocol versions this client speaks, sent as "v" on every
  // request that opens or resumes a session (PROTOCOL.md section 2).
  var VERSIONS = '1';

  // What each message costs against the server's inboundBytes besides its
  // payload (PROTOCOL.md section 7).
  var MESSAGE_OVERHEAD = 64;

  var hasOwn = Object.prototype.hasOwnProperty;
  var toStr = Object.prototype.toString;

  function own(o, k) {
    return o !== null && o !== undefined && hasOwn.call(o, k);
  }

  function merge(dst, src) {
    var k;
    if (src) {
      for (k in src) {
        if (own(src, k) && src[k] !== undefined) {
          dst[k] = src[k];
        }
      }
    }
    return dst;
  }

  function options(o) {
    var out = merge(merge({}, config), o);
    out.env = merge(merge({}, config.env), o && o.env);
    if (typeof out.transports === 'string') {
      out.transports = [out.transports];
    }
    if (!out.transports) {
      out.transports = config.transports;
    }
    return out;
  }

  function noop() {}

  function indexOf(list, v) {
    for (var i = 0; i < list.length; i++) {
      if (list[i] === v) {
        return i;
      }
    }
    return -1;
  }

  // ---------------------------------------------------------------------
  // 2. Environment and timers
  // ---------------------------------------------------------------------

  // Every browser global the client touches. An option env object may
  // override any of them; a key set to null means "absent".
  var ENV_KEYS = ['WebSocket', 'EventSource', 'XMLHttpRequest', 'setTimeout', 'clearTimeout',
    'sessionStorage', 'location', 'Blob', 'FileReader', 'TextEncoder', 'TextDecoder', 'URL',
    'EventTarget', 'Event', 'MessageEvent', 'CloseEvent', 'DOMException', 'random', 'queueMicrotask',
    'fetch', 'AbortController'];

  var nativeWebSocket = root.WebSocket || null; // kept when install() replaces it

  function globalValue(k) {
    try {
      switch (k) {
      case 'setTimeout':
        return function (fn, ms) { return root.setTimeout(fn, ms); };
      case 'clearTimeout':
        return function (id) { return root.clearTimeout(id); };
      case 'random':
        return Math.random;
      }
      return root[k] === undefined ? null : root[k];
    } catch (e) {
      return null; // sessionStorage throws in sandboxed frames
    }
  }

  function resolveEnv(over) {
    var env = {}, i, k;
    for (i = 0; i < ENV_KEYS.length; i++) {
      k = ENV_KEYS[i];
      env[k] = own(over, k) ? over[k] : globalValue(k);
    }
    if (env.WebSocket && env.WebSocket === FerryWebSocket) {
      env.WebSocket = nativeWebSocket;
    }
    return env;
  }

  // soon runs fn once the current task's own code is done: a microtask
  // where the browser has them, else a zero timer.
  function soon(env, fn) {
    var q = env.queueMicrotask; // called unbound: a browser's refuses another this
    if (typeof q === 'function') {
      q(fn);
    } else {
      later(env, fn, 0);
    }
  }

  function later(env, fn, ms) {
    var st = env.setTimeout;
    return st(fn, ms || 0);
  }

  // Timers is a set of named one-shot timers, all cancelled together.
  function Timers(env) {
    this.env = env;
    this.ids = {};
  }

  Timers.prototype.set = function (name, ms, fn) {
    var self = this;
    this.clear(name);
    this.ids[name] = later(this.env, function () {
      delete self.ids[name];
      fn();
    }, ms);
  };

  Timers.prototype.has = function (name) {
    return own(this.ids, name);
  };

  Timers.prototype.clear = function (name) {
    if (own(this.ids, name)) {
      var ct = this.env.clearTimeout;
      ct(this.ids[name]);
      delete this.ids[name];
    }
  };

  Timers.prototype.clearAll = function () {
    for (var k in this.ids) {
      if (own(this.ids, k)) {
        this.clear(k);
      }
    }
  };

  // Watchdog calls onSilent once nothing has arrived for ms (set by
  // start). kick() notes an arrival without touching a timer: the timer
  // looks every quarter of ms whether anything arrived in between, so a
  // busy carrier costs a few timers per period instead of a clearTimeout
  // and a setTimeout per message. After a quarter with nothing, it waits
  // the other three quarters in one go; silence is noticed between ms and
  // 1.25 ms after the last arrival. The kick after a check sets the timer
  // again, so that timers do not keep setting timers while data flows:
  // browsers throttle long chains of them in hidden tabs.
  function Watchdog(timers, name, onSilent) {
    this.t = timers;
    this.name = name;
    this.onSilent = onSilent;
    this.ms = 0;
    this.seen = false; // an arrival since the last check
    this.rest = false; // waiting the last three quarters
    this.rearm = false; // the next kick sets the timer
  }

  Watchdog.prototype.start = function (ms) {
    this.ms = ms;
    this.seen = false;
    this.rearm = false;
    this.arm(false);
  };

  Watchdog.prototype.arm = function (rest) {
    var self = this, q = Math.ceil(this.ms / 4);
    this.rest = rest;
    this.t.set(this.name, rest ? this.ms - q : q, function () {
      self.check();
    });
  };

  Watchdog.prototype.check = function () {
    if (this.seen) {
      this.seen = false;
      this.rearm = true;
      this.arm(false);
    } else if (!this.rest) {
      this.rearm = true;
      this.arm(true);
    } else {
      this.onSilent();
    }
  };

  Watchdog.prototype.kick = function () {
    this.seen = true;
    if (this.rearm) {
      this.rearm = false;
      this.arm(false);
    }
  };

  Watchdog.prototype.running = function () {
    return this.t.has(this.name);
  };

  // backoff returns the delay before retry number n (0: at once), capped
  // and with jitter so that many clients do not retry in step.
  function backoff(opts, env, n) {
    if (n <= 0) {
      return 0;
    }
    var d = Math.min(opts.maxBackoff, opts.backoff * Math.pow(2, Math.min(n - 1, 20)));
    var rnd = env.random || Math.random;
    return Math.round(d / 2 + rnd() * d / 2);
  }

  // Remembered transport: sessionStorage, keyed by host.
  function recall(env, host) {
    try {
      return env.sessionStorage ? env.sessionStorage.getItem('ferry.transport:' + host) : null;
    } catch (e) {
      return null;
    }
  }

  function remember(env, host, name) {
    try {
      if (env.sessionStorage) {
        env.sessionStorage.setItem('ferry.transport:' + host, name);
      }
    } catch (e) {
      // storage full or forbidden: forget it
    }
  }

  // ---------------------------------------------------------------------
  // 3. Bytes: UTF-8, base64, frames
  // ---------------------------------------------------------------------

  // utf8Length counts the UTF-8 bytes of s, a lone surrogate as U+FFFD.
  function utf8Length(s) {
    var n = 0, i, c, d;
    for (i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length &&
          (d = s.charCodeAt(i + 1)) >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  // utf8Encode returns the UTF-8 bytes of s (lone surrogates as U+FFFD).
  function utf8Encode(s) {
    var out = new Uint8Array(utf8Length(s)), p = 0, i, c, d;
    for (i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c < 0x80) {
        out[p++] = c;
        continue;
      }
      if (c < 0x800) {
        out[p++] = 0xc0 | (c >> 6);
        out[p++] = 0x80 | (c & 63);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        if (c <= 0xdbff && i + 1 < s.length && (d = s.charCodeAt(i + 1)) >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[p++] = 0xf0 | (c >> 18);
          out[p++] = 0x80 | ((c >> 12) & 63);
          out[p++] = 0x80 | ((c >> 6) & 63);
          out[p++] = 0x80 | (c & 63);
          continue;
        }
        c = 0xfffd;
      }
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 63);
      out[p++] = 0x80 | (c & 63);
    }
    return out;
  }

  // utf8Decode decodes bytes[start:] (a Uint8Array), invalid sequences as
  // U+FFFD, like TextDecoder without fatal.
  var decoderOf = null, decoder = null; // the last TextDecoder made, and its constructor

  function utf8Decode(bytes, start, env) {
    var i = start || 0, n = bytes.length, parts = [], units = [], c, need, cp, min, j, b;
    if (env && env.TextDecoder) {
      if (decoderOf !== env.TextDecoder) {
        decoder = new env.TextDecoder('utf-8');
        decoderOf = env.TextDecoder;
      }
      return decoder.decode(bytes.subarray(i));
    }
    while (i < n) {
      c = bytes[i++];
      if (c < 0x80) {
        cp = c;
      } else {
        need = c >= 0xf0 && c <= 0xf4 ? 3 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xc2 && c <= 0xdf ? 1 : 0;
        min = need === 3 ? 0x10000 : need === 2 ? 0x800 : 0x80;
        cp = need ? c & (0x3f >> need) : -1;
        for (j = 0; j < need; j++) {
          b = bytes[i];
          if (i >= n || (b & 0xc0) !== 0x80) {
            cp = -1;
            break;
          }
          cp = (cp << 6) | (b & 63);
          i++;
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          cp = 0xfffd;
        }
      }
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else {
        units.push(cp);
      }
      if (units.length >= 8192) {
        parts.push(String.fromCharCode.apply(null, units));
        units = [];
      }
    }
    parts.push(String.fromCharCode.apply(null, units));
    return parts.join('');
  }

  var B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  var B64_INV = (function () {
    var t = [], i;
    for (i = 0; i < 128; i++) {
      t.push(-1);
    }
    for (i = 0; i < 64; i++) {
      t[B64.charCodeAt(i)] = i;
    }
    return t;
  }());

  // base64Encode encodes a Uint8Array with the standard alphabet and
  // padding (RFC 4648), without btoa.
  function base64Encode(u8) {
    var parts = [], chunk = [], n = u8.length, i, v;
    for (i = 0; i + 2 < n; i += 3) {
      v = (u8[i] << 16) | (u8[i + 1] << 8) | u8[i + 2];
      chunk.push(B64.charAt(v >> 18) + B64.charAt((v >> 12) & 63) + B64.charAt((v >> 6) & 63) + B64.charAt(v & 63));
      if (chunk.length === 4096) {
        parts.push(chunk.join(''));
        chunk = [];
      }
    }
    if (n - i === 1) {
      v = u8[i] << 16;
      chunk.push(B64.charAt(v >> 18) + B64.charAt((v >> 12) & 63) + '==');
    } else if (n - i === 2) {
      v = (u8[i] << 16) | (u8[i + 1] << 8);
      chunk.push(B64.charAt(v >> 18) + B64.charAt((v >> 12) & 63) + B64.charAt((v >> 6) & 63) + '=');
    }
    parts.push(chunk.join(''));
    return parts.join('');
  }

  function b64val(s, i) {
    var c = s.charCodeAt(i), v = c < 128 ? B64_INV[c] : -1;
    if (v < 0) {
      throw new Error('ferry: bad base64');
    }
    return v;
  }

  // base64Decode decodes padded standard base64 into a Uint8Array that
  // covers its own ArrayBuffer (so that delivering it as an ArrayBuffer
  // copies nothing: a small typed array made with new Uint8Array(n) lives
  // on the JavaScript heap, and reading its .buffer would move it out);
  // it throws on anything else.
  function base64Decode(s) {
    var n = s.length, pad = 0, out, i, p = 0, v, a, b, c, d, full;
    if (n % 4 !== 0) {
      throw new Error('ferry: bad base64 length');
    }
    if (n && s.charCodeAt(n - 1) === 61) { // '='
      pad = s.charCodeAt(n - 2) === 61 ? 2 : 1;
    }
    out = new Uint8Array(new ArrayBuffer(n / 4 * 3 - pad));
    full = pad ? n - 4 : n;
    for (i = 0; i < full; i += 4) {
      a = s.charCodeAt(i);
      b = s.charCodeAt(i + 1);
      c = s.charCodeAt(i + 2);
      d = s.charCodeAt(i + 3);
      // Any code unit of 128 or more indexes past the table: undefined,
      // which the check below catches with the -1 entries.
      a = B64_INV[a];
      b = B64_INV[b];
      c = B64_INV[c];
      d = B64_INV[d];
      if (!(a >= 0 && b >= 0 && c >= 0 && d >= 0)) {
        throw new Error('ferry: bad base64');
      }
      v = (a << 18) | (b << 12) | (c << 6) | d;
      out[p++] = v >> 16;
      out[p++] = (v >> 8) & 255;
      out[p++] = v & 255;
    }
    if (pad) {
      v = (b64val(s, i) << 18) | (b64val(s, i + 1) << 12);
      if (pad === 1) {
        v |= b64val(s, i + 2) << 6;
      }
      out[p] = v >> 16;
      if (pad === 1) {
        out[p + 1] = (v >> 8) & 255;
      }
    }
    return out;
  }

  // escapeText applies the frame escaping: \ -> \\, CR -> \r, LF -> \n.
  function escapeText(s) {
    return s.replace(/[\\\r\n]/g, function (c) {
      return c === '\\' ? '\\\\' : c === '\r' ? '\\r' : '\\n';
    });
  }

  // unescapeText reverses escapeText; it throws on a malformed escape or a
  // raw CR or LF.
  function unescapeText(s) {
    if (s.indexOf('\\') < 0 && !/[\r\n]/.test(s)) {
      return s;
    }
    return s.replace(/\\([\s\S]?)|[\r\n]/g, function (m, c) {
      if (c === '\\') {
        return '\\';
      }
      if (c === 'r') {
        return '\r';
      }
      if (c === 'n') {
        return '\n';
      }
      throw new Error('ferry: bad escape');
    });
  }

  // parseNumber parses a protocol decimal (no sign, no leading zeros,
  // at most 2^53-1), or returns -1.
  function parseNumber(s) {
    var n = 0, len = s.length, i, c;
    if (len === 0 || len > 16 || (len > 1 && s.charCodeAt(0) === 48)) {
      return -1;
    }
    for (i = 0; i < len; i++) {
      c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) {
        return -1;
      }
      n = n * 10 + c;
    }
    return n <= MAX_NUMBER ? n : -1;
  }

  // parseClose parses "c[<code>[ <escaped reason>]]"; a bare "c" is a
  // close without a status code, reported as 1005.
  function parseClose(line) {
    if (line === 'c') {
      return {kind: 'c', code: 1005, reason: '', size: 0};
    }
    var m = /^c(0|[1-9][0-9]*)(?: ([\s\S]*))?$/.exec(line);
    if (!m) {
      throw new Error('ferry: bad close frame');
    }
    return {kind: 'c', code: +m[1], reason: m[2] ? unescapeText(m[2]) : '', size: 0};
  }

  // parseSequenced parses a text-form t, b or c frame.
  function parseSequenced(line) {
    var k = line.charAt(0), body = line.slice(1), bytes;
    if (k === 't') {
      body = unescapeText(body);
      return {kind: 't', data: body, size: utf8Length(body)};
    }
    if (k === 'b') {
      bytes = base64Decode(body);
      return {kind: 'b', data: bytes, size: bytes.length};
    }
    if (k === 'c') {
      return parseClose(line);
    }
    throw new Error('ferry: bad frame kind');
  }

  // frameLine returns (and caches) an outgoing frame in text form and its
  // UTF-8 length.
  function frameLine(f) {
    if (f.line === undefined) {
      if (f.kind === 't') {
        f.line = 't' + escapeText(f.data);
      } else if (f.kind === 'b') {
        f.line = 'b' + base64Encode(f.data);
      } else {
        f.line = f.code === 1005 ? 'c' : 'c' + f.code + (f.reason ? ' ' + escapeText(f.reason) : '');
      }
      f.lineBytes = f.kind === 'b' ? f.line.length : utf8Length(f.line);
    }
    return f.line;
  }

  function isArrayBuffer(x) {
    return toStr.call(x) === '[object ArrayBuffer]';
  }

  function isView(x) {
    return typeof ArrayBuffer !== 'undefined' && ArrayBuffer.isView && ArrayBuffer.isView(x);
  }

  function isBlob(env, x) {
    var t = toStr.call(x);
    return (env.Blob && x instanceof env.Blob) || t === '[object Blob]' || t === '[object File]';
  }

  // copyBytes snapshots an ArrayBuffer or view as a fresh Uint8Array.
  function copyBytes(x) {
    if (isArrayBuffer(x)) {
      return new Uint8Array(x.slice(0));
    }
    return new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength));
  }

  // bufferOf returns an ArrayBuffer holding exactly the bytes of u8.
  function bufferOf(u8) {
    if (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength) {
      return u8.buffer;
    }
    return u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
  }

  // ---------------------------------------------------------------------
  // 4. URLs and subprotocols
  // ---------------------------------------------------------------------

  function syntaxError(env, msg) {
    return domError(env, msg, 'SyntaxError');
  }

  function domError(env, msg, name) {
    var D = env.DOMException, e;
    if (typeof D === 'function') {
      try {
        return new D(msg, name);
      } catch (ignore) {
        // old engines: fall through
      }
    }
    e = new Error(msg);
    e.name = name;
    return e;
  }

  var SCHEMES = {'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:'};
  var DEFAULT_PORT = {'ws:': '80', 'wss:': '443'};

  // parseURL applies the WebSocket constructor's URL rules: resolve
  // against the page, map http(s) to ws(s), refuse other schemes and
  // fragments. It returns the pieces the transports need.
  function parseURL(env, input) {
    var base = env.location && env.location.href ? String(env.location.href) : undefined;
    var u = env.URL ? parseWithURL(env, input, base) : parseFallback(env, input, base);
    var scheme = SCHEMES[u.protocol];
    if (!scheme) {
      throw syntaxError(env, "The URL's scheme must be either 'http', 'https', 'ws', or 'wss'. '" + u.protocol + "' is not allowed.");
    }
    if (u.fragment) {
      throw syntaxError(env, "The URL contains a fragment identifier ('" + u.hash + "'). Fragment identifiers are not allowed in WebSocket URLs.");
    }
    var host = u.port && u.port !== DEFAULT_PORT[scheme] ? u.hostname + ':' + u.port : u.hostname;
    var auth = u.userinfo ? u.userinfo + '@' : '';
    var path = u.pathname || '/';
    var basePath = path.replace(/\/+$/, '');
    var httpScheme = scheme === 'ws:' ? 'http:' : 'https:';
    return {
      href: scheme + '//' + auth + host + path + u.search,
      origin: scheme + '//' + host,
      host: host,
      query: u.search.length > 1 ? u.search.slice(1) : '',
      ws: scheme + '//' + auth + host + basePath,
      http: httpScheme + '//' + auth + host + basePath
    };
  }

  function parseWithURL(env, input, base) {
    var u;
    try {
      u = base === undefined ? new env.URL(input) : new env.URL(input, base);
    } catch (e) {
      throw syntaxError(env, "The URL '" + input + "' is invalid.");
    }
    return {
      protocol: u.protocol, hostname: u.hostname, port: u.port, pathname: u.pathname,
      search: u.search, hash: u.hash, fragment: u.href.indexOf('#') >= 0,
      userinfo: u.username ? u.username + (u.password ? ':' + u.password : '') : ''
    };
  }

  // Leading and trailing C0 controls and spaces, which URL parsing strips.
  // eslint-disable-next-line no-control-regex -- the URL standard strips exactly these
  var CONTROL_EDGES = new RegExp('^[\\s\\u0000-\\u001f]+|[\\s\\u0000-\\u001f]+$', 'g');

  // parseFallback is a small URL parser for engines without URL: absolute
  // URLs of the special schemes (ws, wss, http, https) and references
  // relative to base, following the URL standard where WebSocket URLs
  // meet it: backslashes count as slashes, any run of slashes precedes the
  // host, IPv6 literals are checked, and the path and query are
  // percent-encoded.
  function parseFallback(env, input, base) {
    var s = input.replace(CONTROL_EDGES, '').replace(/[\t\n\r]/g, '');
    if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) {
      if (base === undefined) {
        throw syntaxError(env, "The URL '" + input + "' is invalid.");
      }
      s = resolveRef(s.replace(/\\/g, '/'), base);
    }
    var m = /^([a-zA-Z][a-zA-Z0-9+.-]*:)([^?#]*)(\?[^#]*)?(#[\s\S]*)?$/.exec(s);
    var scheme = m && m[1].toLowerCase();
    var rest = m && SCHEMES[scheme] ? m[2].replace(/\\/g, '/') : '';
    var hier = /^\/*([^/]*)([\s\S]*)$/.exec(rest);
    if (!m || !SCHEMES[scheme] || !hier) {
      if (m && !SCHEMES[scheme]) {
        return {protocol: scheme, hostname: '', port: '', pathname: '', search: '', hash: '', fragment: false, userinfo: ''};
      }
      throw syntaxError(env, "The URL '" + input + "' is invalid.");
    }
    var authority = hier[1], at = authority.lastIndexOf('@'), userinfo = '', hostport, hp;
    if (at >= 0) {
      userinfo = authority.slice(0, at);
      authority = authority.slice(at + 1);
    }
    hostport = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]*)(?::([0-9]*))?$/.exec(authority);
    if (!hostport || !hostport[1] || (hostport[2] && +hostport[2] > 65535)) {
      throw syntaxError(env, "The URL '" + input + "' is invalid.");
    }
    hp = hostport[2] ? String(+hostport[2]) : '';
    return {
      protocol: scheme, hostname: hostport[1].toLowerCase(), port: hp,
      pathname: percentEncode(removeDots(hier[2] || '/'), PATH_UNSAFE),
      search: m[3] && m[3].length > 1 ? percentEncode(m[3], QUERY_UNSAFE) : '',
      hash: m[4] && m[4].length > 1 ? m[4] : '', fragment: m[4] !== undefined && m[4] !== '',
      userinfo: userinfo
    };
  }

  // The characters the URL standard percent-encodes in a special URL's
  // path and query (besides controls and non-ASCII).
  // eslint-disable-next-line no-control-regex -- the URL standard encodes exactly these
  var PATH_UNSAFE = new RegExp('[\\ud800-\\udbff][\\udc00-\\udfff]|[\\u0000-\\u0020"<>`{}\\u007f-\\uffff]', 'g');
  // eslint-disable-next-line no-control-regex -- the URL standard encodes exactly these
  var QUERY_UNSAFE = new RegExp("[\\ud800-\\udbff][\\udc00-\\udfff]|[\\u0000-\\u0020\"'<>\\u007f-\\uffff]", 'g');

  function percentEncode(s, unsafe) {
    return s.replace(unsafe, function (c) {
      try {
        return c === "'" ? '%27' : encodeURIComponent(c);
      } catch (e) {
        return '%EF%BF%BD'; // a lone surrogate becomes U+FFFD
      }
    });
  }

  function resolveRef(ref, base) {
    var m = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(\/\/[^/?#]*)?([^?#]*)(\?[^#]*)?/.exec(base) || ['', '', '', '/', ''];
    var scheme = m[1], auth = m[2] || '', path = m[3] || '/', query = m[4] || '';
    if (ref.slice(0, 2) === '//') {
      return scheme + ref;
    }
    if (ref.charAt(0) === '/') {
      return scheme + auth + ref;
    }
    if (ref === '' || ref.charAt(0) === '#') {
      return scheme + auth + path + query + ref;
    }
    if (ref.charAt(0) === '?') {
      return scheme + auth + path + ref;
    }
    return scheme + auth + path.slice(0, path.lastIndexOf('/') + 1) + ref;
  }

  function removeDots(path) {
    var parts = path.split('/'), out = [], i, p;
    for (i = 0; i < parts.length; i++) {
      p = parts[i];
      if (p === '..') {
        if (out.length > 1) {
          out.pop();
        }
        if (i === parts.length - 1) {
          out.push('');
        }
      } else if (p === '.') {
        if (i === parts.length - 1) {
          out.push('');
        }
      } else {
        out.push(p);
      }
    }
    path = out.join('/');
    return path.charAt(0) === '/' ? path : '/' + path;
  }

  // parseProtocols validates the protocols argument: RFC 6455 tokens, no
  // repeats.
  function parseProtocols(env, protocols) {
    var list = [], i, p;
    if (protocols === undefined) {
      return list;
    }
    if (typeof protocols === 'string' || !protocols || typeof protocols !== 'object') {
      protocols = [protocols];
    }
    for (i = 0; i < protocols.length; i++) {
      p = String(protocols[i]);
      if (!/^[!#$%&'*+\-.0-9A-Z^_`a-z|~]+$/.test(p)) {
        throw syntaxError(env, "The subprotocol '" + p + "' is invalid.");
      }
      if (indexOf(list, p) >= 0) {
        throw syntaxError(env, "The subprotocol '" + p + "' is duplicated.");
      }
      list.push(p);
    }
    return list;
  }

  // ---------------------------------------------------------------------
  // 5. Events and event streams
  // ---------------------------------------------------------------------

  // nativeTarget returns the environment's EventTarget if instances of a
  // subclass can be made with Reflect.construct, else null.
  function nativeTarget(env, newTarget) {
    var ET = env.EventTarget;
    if (typeof ET !== 'function' || typeof env.Event !== 'function' ||
        typeof Reflect === 'undefined' || !Reflect.construct) {
      return null;
    }
    try {
      return Reflect.construct(ET, [], newTarget);
    } catch (e) {
      return null;
    }
  }

  // SimpleEvent stands in for Event where the environment has no usable
  // EventTarget.
  function SimpleEvent(type, init) {
    this.type = type;
    this.target = null;
    this.currentTarget = null;
    this.srcElement = null;
    this.eventPhase = 0;
    this.bubbles = false;
    this.cancelable = false;
    this.composed = false;
    this.defaultPrevented = false;
    this.isTrusted = false;
    this.timeStamp = new Date().getTime();
    this.stopped = false;
    merge(this, init);
  }

  SimpleEvent.prototype.preventDefault = function () {
    if (this.cancelable) {
      this.defaultPrevented = true;
    }
  };
  SimpleEvent.prototype.stopPropagation = noop;
  SimpleEvent.prototype.stopImmediatePropagation = function () {
    this.stopped = true;
  };

  // makeEvent builds the event to dispatch: the environment's Event,
  // MessageEvent and CloseEvent when the socket is a real EventTarget.
  function makeEvent(env, nativeMode, type, init) {
    var ev, k;
    if (!nativeMode) {
      return new SimpleEvent(type, init);
    }
    if (type === 'message' && typeof env.MessageEvent === 'function') {
      return new env.MessageEvent(type, init);
    }
    if (type === 'close' && typeof env.CloseEvent === 'function') {
      return new env.CloseEvent(type, init);
    }
    ev = new env.Event(type);
    for (k in init) {
      if (own(init, k)) {
        Object.defineProperty(ev, k, {value: init[k], enumerable: true, configurable: true});
      }
    }
    return ev;
  }

  function reportError(env, err) {
    later(env, function () {
      throw err;
    }, 0);
  }

  // Listener list for SimpleEvent dispatch.
  function addListener(map, type, fn, capture, once) {
    var list = map[type] || (map[type] = []), i;
    for (i = 0; i < list.length; i++) {
      if (list[i].fn === fn && list[i].capture === capture) {
        return;
      }
    }
    list.push({fn: fn, capture: capture, once: once, removed: false});
  }

  function removeListener(map, type, fn, capture) {
    var list = map[type] || [], i;
    for (i = 0; i < list.length; i++) {
      if (list[i].fn === fn && list[i].capture === capture) {
        list[i].removed = true;
        list.splice(i, 1);
        return;
      }
    }
  }

  function setEventField(ev, k, v) {
    try {
      Object.defineProperty(ev, k, {value: v, configurable: true, enumerable: true, writable: true});
    } catch (e) {
      // a frozen or exotic event: leave it
    }
  }

  function dispatchSimple(env, target, map, ev) {
    var list = (map[ev.type] || []).slice(), i, l;
    setEventField(ev, 'target', target);
    setEventField(ev, 'srcElement', target);
    setEventField(ev, 'currentTarget', target);
    setEventField(ev, 'eventPhase', 2);
    for (i = 0; i < list.length && !ev.stopped; i++) {
      l = list[i];
      if (l.removed) {
        continue;
      }
      if (l.once) {
        removeListener(map, ev.type, l.fn, l.capture);
      }
      try {
        if (typeof l.fn === 'function') {
          l.fn.call(target, ev);
        } else if (l.fn && typeof l.fn.handleEvent === 'function') {
          l.fn.handleEvent(ev);
        }
      } catch (err) {
        reportError(env, err);
      }
    }
    setEventField(ev, 'currentTarget', null);
    setEventField(ev, 'eventPhase', 0);
    return !ev.defaultPrevented;
  }

  // StreamParser reads the WHATWG event-stream format incrementally:
  // lines end at CR, LF or CRLF, ":" starts a comment, a blank line
  // dispatches. onEvent(data, lastEventId, hadId) gets one call per event.
  function StreamParser(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.data = null;
    this.id = '';
    this.hadId = false;
    this.skipLF = false;
    this.stopped = false;
  }

  StreamParser.prototype.feed = function (chunk) {
    var text = this.buf ? this.buf + chunk : chunk, pos = 0, n = text.length, re, m, j;
    if (this.skipLF && chunk.length) {
      this.skipLF = false;
      if (text.charCodeAt(0) === 10) {
        pos = 1;
      }
    }
    if (text.indexOf('\r', pos) < 0) {
      // Only LF line ends (what Ferry's server writes): no regular
      // expression, one indexOf per line.
      while (!this.stopped && (j = text.indexOf('\n', pos)) >= 0) {
        this.line(text, pos, j);
        pos = j + 1;
      }
    } else {
      re = /[\r\n]/g;
      while (!this.stopped) {
        re.lastIndex = pos;
        m = re.exec(text);
        if (!m) {
          break;
        }
        j = m.index;
        this.line(text, pos, j);
        pos = j + 1;
        if (text.charCodeAt(j) === 13) {
          if (j + 1 === n) {
            this.skipLF = true;
          } else if (text.charCodeAt(j + 1) === 10) {
            pos++;
          }
        }
      }
    }
    this.buf = this.stopped || pos === n ? '' : text.substring(pos);
  };

  // line handles the line text[from:to].
  StreamParser.prototype.line = function (text, from, to) {
    var k, field, value, l, c;
    if (to === from) {
      if (this.data !== null) {
        value = this.data;
        this.data = null;
        this.onEvent(value, this.id, this.hadId);
        this.hadId = false;
      }
      return;
    }
    c = text.charCodeAt(from);
    if (c === 58) { // ":" starts a comment
      return;
    }
    // Fast paths for "data: " and "id: " lines.
    if (c === 100 && to - from >= 6 && text.substring(from, from + 6) === 'data: ') {
      value = text.substring(from + 6, to);
      this.data = this.data === null ? value : this.data + '\n' + value;
      return;
    }
    if (c === 105 && to - from >= 4 && text.substring(from, from + 4) === 'id: ') {
      value = text.substring(from + 4, to);
      if (value.indexOf('\u0000') < 0) {
        this.id = value;
        this.hadId = true;
      }
      return;
    }
    l = text.substring(from, to);
    k = l.indexOf(':');
    field = k < 0 ? l : l.slice(0, k);
    value = k < 0 ? '' : l.slice(k + 1);
    if (value.charAt(0) === ' ') {
      value = value.slice(1);
    }
    if (field === 'data') {
      this.data = this.data === null ? value : this.data + '\n' + value;
    } else if (field === 'id' && value.indexOf('\u0000') < 0) {
      this.id = value;
      this.hadId = true;
    }
  };

  // ---------------------------------------------------------------------
  // 6. HTTP requests
  // ---------------------------------------------------------------------

  // request issues one XMLHttpRequest. o: method, url, body, timeout,
  // withCredentials, onChunk(text so far), onDone(status, text). A network
  // error, abort by timeout, or a thrown open/send all end as status 0.
  // It returns a handle whose abort() ends it silently.
  function request(env, o) {
    var xhr, done = false, timer = null;
    function finish(status, text) {
      if (done) {
        return;
      }
      done = true;
      if (timer !== null) {
        var ct = env.clearTimeout;
        ct(timer);
      }
      o.onDone(status, text);
    }
    function text() {
      try {
        return xhr.responseText || '';
      } catch (e) {
        return '';
      }
    }
    function progress() {
      if (!done && o.onChunk && xhr.readyState >= 3 && xhr.status === 200) {
        o.onChunk(text());
      }
    }
    try {
      xhr = new env.XMLHttpRequest();
      xhr.open(o.method, o.url, true);
      if (o.withCredentials) {
        xhr.withCredentials = true;
      }
      if (o.method === 'POST') {
        xhr.setRequestHeader('Content-Type', 'text/plain;charset=UTF-8');
      }
      if (o.onChunk && xhr.overrideMimeType) {
        xhr.overrideMimeType('text/plain; charset=utf-8');
      }
      xhr.onreadystatechange = function () {
        if (xhr.readyState === 3) {
          progress();
        } else if (xhr.readyState === 4) {
          progress();
          var status;
          try {
            status = xhr.status;
          } catch (e) {
            status = 0;
          }
          finish(status, text());
        }
      };
      if (o.onChunk) {
        xhr.onprogress = progress;
      }
      xhr.send(o.body === undefined ? null : o.body);
    } catch (e) {
      later(env, function () {
        finish(0, '');
      }, 0);
    }
    if (o.timeout) {
      timer = later(env, function () {
        timer = null;
        abort();
        finish(0, '');
      }, o.timeout);
    }
    function abort() {
      try {
        if (xhr) {
          xhr.onreadystatechange = noop;
          xhr.onprogress = noop;
          xhr.abort();
        }
      } catch (e) {
        // ignore
      }
    }
    return {
      abort: function () {
        if (!done) {
          done = true;
          if (timer !== null) {
            var ct = env.clearTimeout;
            ct(timer);
          }
          abort();
        }
      }
    };
  }

  function query(params) {
    var out = [], k;
    for (k in params) {
      if (own(params, k) && params[k] !== undefined) {
        out.push(encodeURIComponent(k) + '=' + encodeURIComponent(params[k]));
      }
    }
    return out.join('&');
  }

  // ---------------------------------------------------------------------
  // 7. Transports
  //
  // Each transport is a unit with the same shape: name, enabled(env) and
  // open(session, id), which returns a carrier. A carrier has start(),
  // close(), and, when it carries upstream frames itself (websocket),
  // send(frame) and ack(n). Carriers report to the session, which ignores
  // reports from any carrier but its current one.
  // ---------------------------------------------------------------------

  // Carrier is the common base: timers, the dead flag, and the reports.
  function Carrier(name, s, id) {
    this.name = name;
    this.s = s;
    this.id = id;
    this.up = false; // delivered its first frame at least once
    this.dead = false;
    this.t = new Timers(s.env);
  }

  Carrier.prototype.markUp = function () {
    if (!this.up && !this.dead) {
      this.up = true;
      this.s.carrierUp(this);
    }
  };

  Carrier.prototype.fail = function (why) {
    if (!this.dead) {
      this.s.carrierDown(this, why || {});
    }
  };

  Carrier.prototype.close = function () {
    this.dead = true;
    this.t.clearAll();
    this.stop();
  };

  // ensureSession runs POST open when the session has no id yet, then cb.
  Carrier.prototype.ensureSession = function (cb) {
    var self = this, s = this.s;
    if (s.sid) {
      cb();
      return;
    }
    this.req = request(s.env, {
      method: 'POST', url: s.url.http + '/.ferry/open' + s.openQuery(this.name), body: '',
      timeout: s.opts.requestTimeout, withCredentials: s.opts.withCredentials,
      onDone: function (status, text) {
        var info;
        self.req = null;
        if (self.dead) {
          return;
        }
        if (status !== 200) {
          self.fail({status: status, open: true});
          return;
        }
        try {
          info = JSON.parse(text);
        } catch (e) {
          info = null;
        }
        if (!info || typeof info.session !== 'string' || !info.session) {
          self.fail({status: 502, open: true});
          return;
        }
        s.adopt(info, self);
        if (!self.dead) {
          cb();
        }
      }
    });
  };

  // --- websocket: the resumable Ferry WebSocket (PROTOCOL.md section 6) ---

  function WSCarrier(s, id) {
    var self = this;
    Carrier.call(this, 'websocket', s, id);
    this.dog = new Watchdog(this.t, 'idle', function () {
      self.fail({});
    });
    this.ws = null;
    this.next = 1; // number of the next downstream sequenced frame
    this.sent = 0; // highest upstream number written on this connection
  }
  WSCarrier.prototype = Object.create(Carrier.prototype);
  WSCarrier.prototype.constructor = WSCarrier;
  WSCarrier.prototype.http = false;

  WSCarrier.prototype.start = function () {
    var s = this.s, self = this, url, ws;
    if (s.sid) {
      url = s.url.ws + '/.ferry/' + encodeURIComponent(s.sid) + '/ws?v=' + VERSIONS + '&last=' + s.recv;
      this.next = s.recv + 1;
    } else {
      url = s.url.ws + '/.ferry/ws?v=' + VERSIONS + (s.url.query ? '&' + s.url.query : '');
    }
    this.t.set('connect', s.opts.connectTimeout, function () {
      self.fail({probe: true});
    });
    try {
      ws = !s.sid && s.protocols.length ? new s.env.WebSocket(url, s.protocols) : new s.env.WebSocket(url);
      ws.binaryType = 'arraybuffer';
    } catch (e) {
      this.t.set('connect', 0, function () {
        self.fail({});
      });
      return;
    }
    this.ws = ws;
    ws.onmessage = function (e) {
      if (!self.dead) {
        self.message(e.data);
        if (self.up && !self.dead) {
          if (self.dog.running()) {
            self.dog.kick();
          } else {
            self.watch();
          }
        }
      }
    };
    ws.onclose = function () {
      self.fail({probe: !self.up});
    };
    ws.onerror = noop; // close follows
  };

  // watch fails the connection once nothing, not even a heartbeat, has
  // arrived for two heartbeats and a margin, as on an event stream: a
  // path that silently stopped forwarding never closes by itself.
  WSCarrier.prototype.watch = function () {
    this.dog.start(2 * this.s.info.heartbeatMs + 5000);
  };

  WSCarrier.prototype.message = function (data) {
    var s = this.s, u8, text;
    if (typeof data === 'string') {
      this.sequenced({kind: 't', data: data, size: utf8Length(data)});
      return;
    }
    u8 = new Uint8Array(data);
    if (u8.length && u8[0] === 0) {
      // The payload as a Uint8Array over an ArrayBuffer of its own, which
      // is delivered as it is (bufferOf).
      u8 = new Uint8Array(data.slice(1));
      this.sequenced({kind: 'b', data: u8, size: u8.length});
      return;
    }
    if (u8.length < 2 || u8[0] !== 1) {
      s.protocolError();
      return;
    }
    text = utf8Decode(u8, 1, s.env);
    this.control(text);
  };

  WSCarrier.prototype.control = function (text) {
    var s = this.s, k = text.charAt(0), info, n, f;
    if (k === 'o') {
      try {
        info = JSON.parse(text.slice(1));
      } catch (e) {
        info = null;
      }
      if (!info || (!s.sid && typeof info.session !== 'string')) {
        s.protocolError();
        return;
      }
      this.t.clear('connect');
      this.up = true;
      s.wsOpen(this, info);
    } else if (k === 'a') {
      n = parseNumber(text.slice(1));
      if (n < 0) {
        s.protocolError();
        return;
      }
      s.upAck(n);
    } else if (k === 'n') {
      // The server skips frames we acknowledged over another path.
      n = parseNumber(text.slice(1));
      if (!this.up || n < this.next || n > s.recv + 1) {
        s.protocolError();
        return;
      }
      this.next = n;
    } else if (k === 'c') {
      try {
        f = parseClose(text);
      } catch (e) {
        s.protocolError();
        return;
      }
      this.sequenced(f);
    } else if (text !== 'h') {
      s.protocolError();
    }
  };

  WSCarrier.prototype.sequenced = function (f) {
    if (!this.up) {
      this.s.protocolError(); // nothing sequenced before "o"
      return;
    }
    this.s.sequenced(this, this.next++, f);
  };

  function controlMessage(text) {
    var body = utf8Encode(text), u8 = new Uint8Array(body.length + 1);
    u8[0] = 1;
    u8.set(body, 1);
    return u8.buffer;
  }

  WSCarrier.prototype.write = function (data) {
    try {
      this.ws.send(data);
      return true;
    } catch (e) {
      this.fail({});
      return false;
    }
  };

  // send writes one upstream sequenced frame.
  WSCarrier.prototype.send = function (f) {
    var u8;
    if (f.kind === 't') {
      return this.write(f.data);
    }
    if (f.kind === 'b') {
      u8 = new Uint8Array(f.data.length + 1);
      u8.set(f.data, 1);
      return this.write(u8.buffer);
    }
    return this.write(controlMessage(frameLine(f)));
  };

  WSCarrier.prototype.ack = function (n) {
    return this.write(controlMessage('a' + n));
  };

  WSCarrier.prototype.stop = function () {
    var ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
      try {
        if (this.finalClose) {
          ws.close(1000);
        } else {
          ws.close();
        }
      } catch (e) {
        // already closed
      }
    }
  };

  // --- sse: an event stream down, POSTs up (PROTOCOL.md section 5) ---

  function SSECarrier(s, id) {
    var self = this;
    Carrier.call(this, 'sse', s, id);
    // A stream silent past two heartbeats is held back (a buffering proxy
    // that let its first events through) or dead: try the next transport.
    this.dog = new Watchdog(this.t, 'idle', function () {
      self.fail({stalled: true});
    });
    this.es = null;
    this.req = null;
    this.fetchAbort = null; // the AbortController of a fetch stream
    this.gotFirst = false;
  }
  SSECarrier.prototype = Object.create(Carrier.prototype);
  SSECarrier.prototype.constructor = SSECarrier;
  SSECarrier.prototype.http = true;

  SSECarrier.prototype.start = function () {
    var self = this;
    this.ensureSession(function () {
      if (!self.s.allows(self.name)) {
        self.fail({});
        return;
      }
      self.leg();
    });
  };

  // leg opens one event-stream request, resuming after s.recv.
  SSECarrier.prototype.leg = function () {
    var self = this, s = this.s, url;
    this.stop();
    if (!s.wantsDownstream()) {
      return;
    }
    url = s.url.http + '/.ferry/' + encodeURIComponent(s.sid) + '/sse?last=' + s.recv;
    s.downstreamAcked(s.recv);
    this.gotFirst = false;
    this.t.set('first', s.opts.firstEventTimeout, function () {
      self.fail({buffered: true});
    });
    this.watch();
    switch (this.streamReader()) {
    case 'eventsource':
      this.openEventSource(url);
      break;
    case 'fetch':
      this.openFetch(url);
      break;
    default:
      this.openStream(url);
    }
  };

  // streamReader picks how a leg reads its event stream: "eventsource",
  // "fetch" or "xhr". fetch streaming needs fetch, AbortController and
  // TextDecoder (and, known only once a response is in, a body with
  // getReader; without one the session falls back to XHR). fetchStream
  // true prefers it to EventSource, false never uses it; "auto" uses it
  // in place of XHR streaming, whose progress events Chromium throttles,
  // and leaves EventSource where that is on.
  SSECarrier.prototype.streamReader = function () {
    var s = this.s, env = s.env, mode = s.opts.fetchStream;
    var es = !!env.EventSource && !!s.opts.eventSource;
    var canFetch = mode !== false && !s.noFetchStream && typeof env.fetch === 'function' &&
      typeof env.AbortController === 'function' && typeof env.TextDecoder === 'function';
    if (canFetch && (mode === true || !es)) {
      return 'fetch';
    }
    return es ? 'eventsource' : 'xhr';
  };

  SSECarrier.prototype.watch = function () {
    this.dog.start(2 * this.s.info.heartbeatMs + 5000);
  };

  SSECarrier.prototype.openEventSource = function (url) {
    var self = this, es;
    try {
      es = new this.s.env.EventSource(url, {withCredentials: !!this.s.opts.withCredentials});
    } catch (e) {
      this.t.set('first', 0, function () {
        self.fail({});
      });
      return;
    }
    this.es = es;
    es.onmessage = function (e) {
      var id;
      if (!self.dead && self.es === es) {
        id = e.lastEventId || ''; // each read of an event attribute makes a new string
        self.event(String(e.data), id, id !== '');
      }
    };
    es.onerror = function () {
      if (self.dead || self.es !== es) {
        return;
      }
      // CLOSED means the server answered with an error status; ask the
      // send endpoint whether the session still exists.
      self.fail({probe: es.readyState === 2});
    };
  };

  SSECarrier.prototype.openStream = function (url) {
    var self = this, s = this.s, seen = 0;
    var parser = new StreamParser(function (data, id, hadId) {
      self.event(data, id, hadId);
    });
    this.parser = parser;
    this.req = request(s.env, {
      method: 'GET', url: url, withCredentials: s.opts.withCredentials,
      onChunk: function (text) {
        if (text.length > seen && !self.dead) {
          var chunk = text.slice(seen);
          seen = text.length;
          parser.feed(chunk);
        }
      },
      onDone: function (status) {
        if (self.dead || self.parser !== parser) {
          return;
        }
        self.req = null;
        if (status === 200 && self.gotFirst) {
          self.leg(); // the stream ended: open the next one
        } else {
          self.fail({status: status});
        }
      }
    });
  };

  // openFetch reads the event stream with fetch: the same GET as XHR
  // streaming (CORS-simple, last= in the query), its body decoded by a
  // streaming TextDecoder (a UTF-8 sequence may straddle two chunks) and
  // fed to the same StreamParser. stop() aborts it through the
  // AbortController; callbacks of an aborted or replaced read are ignored.
  SSECarrier.prototype.openFetch = function (url) {
    var self = this, s = this.s, env = s.env, fetchFn = env.fetch, ac, decoder, reader, parser;
    try {
      ac = new env.AbortController();
      decoder = new env.TextDecoder('utf-8');
    } catch (e) {
      s.noFetchStream = true;
      this.openStream(url);
      return;
    }
    parser = new StreamParser(function (data, id, hadId) {
      self.event(data, id, hadId);
    });
    this.parser = parser;
    this.fetchAbort = ac;
    function current() {
      return !self.dead && self.parser === parser;
    }
    function ended(status) {
      if (current()) {
        self.stop();
        if (status === 200 && self.gotFirst) {
          self.leg(); // the stream ended: open the next one
        } else {
          self.fail({status: status});
        }
      }
    }
    function failed() {
      ended(0);
    }
    function read(r) {
      if (!current()) {
        return;
      }
      if (r.done) {
        ended(200);
        return;
      }
      parser.feed(decoder.decode(r.value, {stream: true}));
      if (current()) {
        reader.read().then(read, failed);
      }
    }
    function answered(res) {
      if (!current()) {
        return;
      }
      if (res.status !== 200) {
        ended(res.status);
      } else if (!res.body || typeof res.body.getReader !== 'function') {
        s.noFetchStream = true; // fetch without streams: XHR from now on
        self.stop();
        self.openStream(url);
      } else {
        reader = res.body.getReader();
        reader.read().then(read, failed);
      }
    }
    try {
      // fetch is called unbound: a browser's refuses another this.
      fetchFn(url, {
        method: 'GET', signal: ac.signal,
        credentials: s.opts.withCredentials ? 'include' : 'same-origin'
      }).then(answered, failed);
    } catch (e) {
      this.t.set('first', 0, failed);
    }
  };

  SSECarrier.prototype.event = function (data, id, hadId) {
    if (this.dead) {
      return;
    }
    this.dog.kick();
    if (!this.gotFirst) {
      this.gotFirst = true;
      this.t.clear('first');
      this.markUp();
      if (this.dead) {
        return;
      }
    }
    if (data === 'r') {
      this.leg();
      return;
    }
    this.s.frameText(this, data, id, hadId);
    // An event of several frames may end with the reconnect frame.
    if (!this.dead && data.length > 1 && data.charCodeAt(data.length - 1) === 114 && // r
        data.charCodeAt(data.length - 2) === 10 && this.s.carrier === this) {
      this.leg();
    }
  };

  SSECarrier.prototype.stop = function () {
    var es = this.es, req = this.req, ac = this.fetchAbort;
    this.es = null;
    this.req = null;
    this.fetchAbort = null;
    if (this.parser) {
      this.parser.stopped = true;
      this.parser = null;
    }
    if (es) {
      es.onmessage = es.onerror = null;
      try {
        es.close();
      } catch (e) {
        // ignore
      }
    }
    if (req) {
      req.abort();
    }
    if (ac) {
      try {
        ac.abort();
      } catch (e) {
        // ignore
      }
    }
  };

  // --- longpoll: held GETs down, POSTs up (PROTOCOL.md section 5) ---

  function PollCarrier(s, id) {
    Carrier.call(this, 'longpoll', s, id);
    this.req = null;
  }
  PollCarrier.prototype = Object.create(Carrier.prototype);
  PollCarrier.prototype.constructor = PollCarrier;
  PollCarrier.prototype.http = true;

  // A poll that has not failed within this many ms counts as up: the
  // server may hold it for a long time before answering.
  var POLL_SETTLE_MS = 1000;

  PollCarrier.prototype.start = function () {
    var self = this;
    this.ensureSession(function () {
      if (!self.s.allows(self.name)) {
        self.fail({});
        return;
      }
      self.poll();
    });
  };

  PollCarrier.prototype.poll = function () {
    var self = this, s = this.s, hb = s.info.heartbeatMs, last = s.recv;
    if (!s.wantsDownstream()) {
      return;
    }
    s.downstreamAcked(last);
    this.t.set('settle', POLL_SETTLE_MS, function () {
      self.markUp();
    });
    this.req = request(s.env, {
      method: 'GET', url: s.url.http + '/.ferry/' + encodeURIComponent(s.sid) + '/poll?last=' + last,
      timeout: 2 * hb + 10000, withCredentials: s.opts.withCredentials,
      onDone: function (status, text) {
        self.req = null;
        if (self.dead) {
          return;
        }
        self.t.clear('settle');
        if (status !== 200) {
          self.fail({status: status});
          return;
        }
        self.markUp();
        self.body(text);
      }
    });
  };

  PollCarrier.prototype.body = function (text) {
    var self = this, parser = new StreamParser(function (data, id, hadId) {
      if (self.dead) {
        parser.stopped = true;
      } else {
        self.s.frameText(self, data, id, hadId);
      }
    });
    parser.feed(text + '\n\n');
    if (!this.dead) {
      this.poll();
    }
  };

  PollCarrier.prototype.stop = function () {
    if (this.req) {
      this.req.abort();
      this.req = null;
    }
  };

  // The fallback order is plain data: Ferry.configure({transports}) or the
  // transports option reorders or restricts it.
  var TRANSPORTS = [
    {name: 'websocket', enabled: function (env) {
      return !!env.WebSocket && typeof Uint8Array !== 'undefined';
    }, open: function (s, id) {
      return new WSCarrier(s, id);
    }},
    {name: 'sse', enabled: function (env) {
      return !!env.XMLHttpRequest;
    }, open: function (s, id) {
      return new SSECarrier(s, id);
    }},
    {name: 'longpoll', enabled: function (env) {
      return !!env.XMLHttpRequest;
    }, open: function (s, id) {
      return new PollCarrier(s, id);
    }}
  ];

  function transportNamed(name) {
    for (var i = 0; i < TRANSPORTS.length; i++) {
      if (TRANSPORTS[i].name === name) {
        return TRANSPORTS[i];
      }
    }
    return null;
  }

  // ---------------------------------------------------------------------
  // 8. Session: the reliable channel
  //
  // Sequence numbers both ways, dedup downstream, an upstream queue kept
  // until acknowledged, carrier negotiation, resume with backoff, and the
  // close handshake. It reports to its socket through sock.onOpen,
  // sock.onMessage and sock.onClose.
  // ---------------------------------------------------------------------

  function Session(sock, url, protocols, opts, env) {
    this.sock = sock;
    this.url = url;
    this.protocols = protocols;
    this.opts = opts;
    this.env = env;
    this.t = new Timers(env);
    this.phase = CONNECTING;
    this.info = merge({}, DEFAULT_INFO);
    this.sid = '';
    this.protocol = '';
    this.transport = '';
    this.order = [];
    this.allowed = [];
    this.connectIndex = 0;
    this.cands = [];
    this.candIdx = 0;
    this.tries = 0;
    this.attempt = 0;
    this.carrier = null;
    // downstream
    this.noFetchStream = false; // a fetch answered without a readable body: read streams with XHR
    this.recv = 0; // last processed sequenced frame
    this.ackSent = 0; // highest number acknowledged to the server
    this.unackedFrames = 0;
    this.unackedBytes = 0;
    this.ackDue = false;
    // upstream
    this.nextSeq = 1;
    this.queue = []; // frames sent or to send, not yet acknowledged
    this.buffered = 0; // bytes in queue
    this.discarded = 0; // bytes given to send() after close
    this.post = null;
    this.postFails = 0;
    this.upBroken = false;
    this.everUp = false; // a carrier has come up: the transport is settled
    // close
    this.localClose = null; // our c frame
    this.remoteClose = null; // the server's c frame
  }

  // --- negotiation -------------------------------------------------------

  // transportOrder is the configured order, restricted to known and
  // enabled transports, with the remembered one first.
  Session.prototype.transportOrder = function () {
    var list = this.opts.transports || [], out = [], i, t, mem;
    for (i = 0; i < list.length; i++) {
      t = transportNamed(list[i]);
      if (t && t.enabled(this.env) && indexOf(out, t.name) < 0) {
        out.push(t.name);
      }
    }
    mem = this.opts.remember ? recall(this.env, this.url.host) : null;
    i = mem ? indexOf(out, mem) : -1;
    if (i > 0) {
      out.splice(i, 1);
      out.unshift(mem);
    }
    return out;
  };

  Session.prototype.connect = function () {
    this.order = this.transportOrder();
    this.allowed = this.order.slice();
    this.tryConnect(0);
  };

  Session.prototype.tryConnect = function (i) {
    var self = this;
    if (this.phase !== CONNECTING) {
      return;
    }
    if (i >= this.order.length) {
      this.t.set('fail', 0, function () {
        self.finish(ABNORMAL, '', false);
      });
      return;
    }
    this.connectIndex = i;
    this.startCarrier(this.order[i]);
  };

  Session.prototype.startCarrier = function (name) {
    var c = transportNamed(name).open(this, ++this.attempt);
    this.carrier = c;
    c.start();
  };

  // openQuery builds the query of a session-creating request; transport
  // (on POST open) announces the carrier that will attach first.
  Session.prototype.openQuery = function (transport) {
    var q = query({
      v: VERSIONS,
      protocols: this.protocols.length ? this.protocols.join(',') : undefined,
      transport: transport
    });
    if (this.url.query) {
      q = q ? q + '&' + this.url.query : this.url.query;
    }
    return q ? '?' + q : '';
  };

  Session.prototype.allows = function (name) {
    return indexOf(this.allowed, name) >= 0;
  };

  // adopt takes the session parameters from POST open or a new Ferry
  // WebSocket's "o" frame, and opens the socket.
  Session.prototype.adopt = function (info, c) {
    var list = info.transports, i, k;
    for (k in DEFAULT_INFO) {
      if (own(DEFAULT_INFO, k) && typeof info[k] === 'number' && info[k] > 0) {
        this.info[k] = info[k];
      }
    }
    this.sid = info.session;
    this.protocol = typeof info.protocol === 'string' ? info.protocol : '';
    if (list && list.length && typeof list !== 'string') {
      this.allowed = [];
      for (i = 0; i < this.order.length; i++) {
        if (indexOf(list, this.order[i]) >= 0) {
          this.allowed.push(this.order[i]);
        }
      }
    }
    this.cands = this.candidatesFrom(c.name);
    this.candIdx = 0;
    this.transport = this.allows(c.name) ? c.name : this.cands[1] || c.name;
    this.upAck(typeof info.ack === 'number' ? info.ack : 0);
    if (!c.up) {
      this.startDeadline();
    }
    if (this.phase === CONNECTING) {
      this.phase = OPEN;
      this.sock.onOpen();
    }
  };

  // candidatesFrom lists the transports to resume on, starting with name.
  Session.prototype.candidatesFrom = function (name) {
    var i = indexOf(this.allowed, name);
    return i >= 0 ? this.allowed.slice(i) : [name].concat(this.allowed);
  };

  Session.prototype.startDeadline = function () {
    var self = this;
    if (!this.t.has('deadline')) {
      this.t.set('deadline', this.info.resumeTimeoutMs, function () {
        self.lost();
      });
    }
  };

  // wsOpen handles a Ferry WebSocket's "o" frame: a new session, or the
  // server's upstream position on a resumed one.
  Session.prototype.wsOpen = function (c, info) {
    var ack = typeof info.ack === 'number' ? info.ack : 0;
    if (c !== this.carrier) {
      return;
    }
    c.sent = ack; // the server numbers our next frame ack+1
    if (!this.sid) {
      this.adopt(info, c);
    } else {
      this.upAck(ack);
    }
    this.carrierUp(c);
  };

  Session.prototype.carrierUp = function (c) {
    var self = this;
    if (c !== this.carrier || this.phase === CLOSED) {
      return;
    }
    this.t.clear('deadline');
    this.t.set('stable', this.opts.stableAfter, function () {
      self.tries = 0;
    });
    this.everUp = true;
    this.transport = c.name;
    if (c.name === 'websocket') {
      // It carries the frames that failed POSTs held between carriers.
      this.t.clear('postDeadline');
      this.t.clear('retry');
      this.postFails = 0;
    }
    if (this.opts.remember) {
      remember(this.env, this.url.host, c.name);
    }
    this.pump();
  };

  // carrierDown handles a carrier that failed or dropped. why: status (an
  // HTTP answer), probe (ask whether the session still exists), open (POST
  // open failed).
  Session.prototype.carrierDown = function (c, why) {
    var wasUp = c.up;
    if (c !== this.carrier || this.phase === CLOSED) {
      return;
    }
    c.close();
    this.carrier = null;
    if (why.status === 404) {
      this.gone();
      return;
    }
    if (this.phase === CONNECTING) {
      if (why.open && why.status >= 400) {
        this.finish(ABNORMAL, '', false);
      } else {
        this.tryConnect(this.connectIndex + 1);
      }
      return;
    }
    if (this.remoteClose && this.localClose && this.localClose.sent) {
      this.finish(this.remoteClose.code, this.remoteClose.reason, true);
      return;
    }
    if (why.probe) {
      this.probe();
    }
    this.resume(wasUp && !why.stalled ? c.name : '');
  };

  // resume picks the next carrier: the same transport again after one that
  // was up, else the next candidate; backoff grows with each retry of the
  // same transport and each pass over the candidate list.
  Session.prototype.resume = function (upName) {
    var self = this, delay = 0;
    this.startDeadline();
    this.t.clear('stable');
    if (upName) {
      this.cands = this.candidatesFrom(upName);
      this.candIdx = 0;
      delay = backoff(this.opts, this.env, this.tries++);
    } else if (++this.candIdx >= this.cands.length) {
      this.candIdx = 0;
      delay = backoff(this.opts, this.env, ++this.tries);
    }
    if (!this.cands.length) {
      this.lost();
      return;
    }
    this.t.set('resume', delay, function () {
      if (self.phase !== CLOSED && !self.carrier) {
        self.startCarrier(self.cands[self.candIdx]);
      }
    });
  };

  // probe asks the send endpoint, with a pure acknowledgement, whether
  // the session still exists: a 404 means it is lost.
  Session.prototype.probe = function () {
    var self = this;
    if (!this.sid || this.post || !this.env.XMLHttpRequest) {
      return;
    }
    this.post = request(this.env, {
      method: 'POST', url: this.sendURL(0), body: '', timeout: this.opts.requestTimeout,
      withCredentials: this.opts.withCredentials,
      onDone: function (status) {
        self.post = null;
        if (status === 404) {
          self.gone();
        } else {
          self.pump();
        }
      }
    });
  };

  Session.prototype.wantsDownstream = function () {
    return this.phase !== CLOSED && !this.remoteClose;
  };

  // --- downstream ----------------------------------------------------------

  // frameText handles the data of one event from an event stream or a
  // long-poll body: one frame, or (data of several lines) one frame per
  // line. The event's id numbers its last sequenced frame (t, b or c), and
  // the sequenced frames before it count down from there, so that an
  // event stream's Last-Event-ID still names the last frame received
  // (PROTOCOL.md section 5.1). Ferry's server sends a batch per event,
  // which saves a browser event per message.
  Session.prototype.frameText = function (c, data, id, hadId) {
    var lines, n, i, k, seq;
    if (data.indexOf('\n') < 0) {
      this.frame(c, data, parseNumber(id), hadId);
      return;
    }
    lines = data.split('\n');
    n = 0;
    for (i = 0; i < lines.length; i++) {
      k = lines[i].charCodeAt(0);
      if (k === 116 || k === 98 || k === 99) { // t, b, c
        n++;
      }
    }
    seq = parseNumber(id);
    seq = seq < 0 ? -1 : seq - n + 1;
    for (i = 0; i < lines.length && c === this.carrier && this.phase !== CLOSED; i++) {
      k = lines[i].charCodeAt(0);
      if (k === 116 || k === 98 || k === 99) {
        this.frame(c, lines[i], seq, hadId);
        if (seq >= 0) {
          seq++;
        }
      } else {
        this.frame(c, lines[i], -1, hadId);
      }
    }
  };

  // frame handles one frame; seq is the number its event's id gives it
  // (-1: none or malformed).
  Session.prototype.frame = function (c, data, seq, hadId) {
    var k = data.charAt(0), n, f;
    if (c !== this.carrier || this.phase === CLOSED) {
      return;
    }
    if (k === 'h' || k === 'r') {
      return;
    }
    if (k === 'o') {
      try {
        f = JSON.parse(data.slice(1));
      } catch (e) {
        f = null;
      }
      if (f && typeof f.ack === 'number') {
        this.upAck(f.ack);
      }
      return;
    }
    if (k === 'a') {
      n = parseNumber(data.slice(1));
      if (n < 0) {
        this.protocolError();
      } else {
        this.upAck(n);
      }
      return;
    }
    try {
      f = parseSequenced(data);
    } catch (e) {
      this.protocolError();
      return;
    }
    if (!hadId && f.kind === 'c') {
      // A close outside the sequence: the server ended the session
      // (for example 4010, resume outside the retention window).
      this.finish(f.code, f.reason, false);
      return;
    }
    if (seq < 1) {
      this.protocolError();
      return;
    }
    this.sequenced(c, seq, f);
  };

  // sequenced processes downstream frame number seq exactly once.
  Session.prototype.sequenced = function (c, seq, f) {
    if (c !== this.carrier || this.phase === CLOSED || seq <= this.recv) {
      return;
    }
    if (seq !== this.recv + 1) {
      c.fail({}); // a gap: resume after the last processed frame
      return;
    }
    this.recv = seq;
    this.received(c, f.size);
    if (f.kind === 'c') {
      this.remoteCloseFrame(f);
    } else if (this.phase === OPEN) {
      this.sock.onMessage(f.kind, f.data);
    }
  };

  // received applies the acknowledgement policy of PROTOCOL.md section 7:
  // a pure acknowledgement once a quarter of the server's window (bytes or
  // messages) has arrived, or a second after the first unacknowledged
  // frame, on an event stream and on a Ferry WebSocket alike. A server
  // whose open info has no windowMessages predates that rule and gets the
  // earlier one: 64 frames, or windowBytes/4 (64 KiB on a WebSocket), or
  // 250 ms (20 ms on a WebSocket).
  Session.prototype.received = function (c, size) {
    var self = this, ws = c.name === 'websocket', info = this.info, maxFrames, maxBytes, delay;
    if (c.name === 'longpoll') {
      return; // the next poll acknowledges
    }
    this.unackedFrames++;
    this.unackedBytes += size;
    if (info.windowMessages > 0) {
      maxFrames = Math.max(1, Math.floor(info.windowMessages / 4));
      maxBytes = Math.max(1, Math.floor(info.windowBytes / 4));
      delay = 1000;
    } else {
      maxFrames = 64;
      maxBytes = ws ? 65536 : Math.max(1, Math.floor(info.windowBytes / 4));
      delay = ws ? 20 : 250;
    }
    if (this.unackedFrames >= maxFrames || this.unackedBytes >= maxBytes) {
      this.ackNow();
    } else if (!this.t.has('ack')) {
      this.t.set('ack', delay, function () {
        self.ackNow();
      });
    }
  };

  Session.prototype.ackNow = function () {
    var c = this.carrier;
    this.t.clear('ack');
    this.unackedFrames = 0;
    this.unackedBytes = 0;
    if (this.recv <= this.ackSent || this.phase === CLOSED) {
      return;
    }
    if (c && c.name === 'websocket' && c.up) {
      if (c.ack(this.recv)) {
        this.ackSent = this.recv;
      }
      return;
    }
    this.ackDue = true;
    this.pump();
  };

  // downstreamAcked notes that a downstream request acknowledges last.
  Session.prototype.downstreamAcked = function (last) {
    if (last > this.ackSent) {
      this.ackSent = last;
    }
  };

  Session.prototype.remoteCloseFrame = function (f) {
    var c = this.carrier;
    this.remoteClose = f;
    if (c && c.http) {
      c.close(); // nothing more comes down; keep it current for POSTs
    }
    if (!this.localClose) {
      this.phase = CLOSING;
      this.enqueueClose(f.code, '');
    }
    this.checkClosed();
  };

  // checkClosed finishes once both close frames were exchanged.
  Session.prototype.checkClosed = function () {
    var r = this.remoteClose;
    if (r && this.phase !== CLOSED && ((this.localClose && this.localClose.sent) || this.upBroken)) {
      this.finish(r.code, r.reason, true);
    }
  };

  // --- upstream -------------------------------------------------------------

  Session.prototype.acked = function () {
    return this.queue.length ? this.queue[0].seq - 1 : this.nextSeq - 1;
  };

  Session.prototype.enqueue = function (f) {
    var self = this, c = this.carrier;
    f.seq = this.nextSeq++;
    this.queue.push(f);
    this.buffered += f.size;
    if ((c && c.name === 'websocket') || this.post || f.kind === 'c') {
      // A WebSocket writes at once; a POST in flight batches the rest; a
      // close goes at once with everything before it.
      this.pump();
      return;
    }
    // No POST in flight: start one once this task's own code has run, so
    // that a loop of send() calls goes up in one POST, not as one lone
    // message followed by all the others.
    if (!this.pumpSoon) {
      this.pumpSoon = true;
      soon(this.env, function () {
        self.pumpSoon = false;
        self.pump();
      });
    }
  };

  Session.prototype.enqueueClose = function (code, reason) {
    this.localClose = {kind: 'c', code: code, reason: reason, size: 0};
    this.enqueue(this.localClose);
  };

  // upAck applies the server's cumulative acknowledgement of our frames.
  Session.prototype.upAck = function (n) {
    if (n > this.nextSeq - 1) {
      this.protocolError();
      return;
    }
    while (this.queue.length && this.queue[0].seq <= n) {
      this.queue[0].sent = true;
      this.buffered -= this.queue.shift().size;
    }
    this.checkClosed();
    var c = this.carrier;
    if (c && c.name === 'websocket' && c.up && this.phase !== CLOSED) {
      this.flushWS(c); // the ack freed credit
    }
  };

  // pump moves queued frames and due acknowledgements onto the current
  // carrier: written at once on a WebSocket, batched into POSTs otherwise.
  Session.prototype.pump = function () {
    var c = this.carrier;
    if (this.phase === CLOSED) {
      return;
    }
    if (c && c.name === 'websocket') {
      if (c.up) {
        this.flushWS(c);
      }
      return;
    }
    this.pumpHTTP();
  };

  // flushWS writes the queued frames the connection has not carried yet,
  // within the server's credit: at most inboundBytes unacknowledged, each
  // message counting its size plus MESSAGE_OVERHEAD (the server
  // acknowledges what its application has read, PROTOCOL.md §6).
  Session.prototype.flushWS = function (c) {
    var i = this.queue.length ? Math.max(0, c.sent - this.queue[0].seq + 1) : 0, f, k;
    var credit = this.info.inboundBytes, inflight = 0;
    for (k = 0; credit > 0 && k < i && k < this.queue.length; k++) {
      inflight += this.queue[k].size + MESSAGE_OVERHEAD;
    }
    if (i === 0 && this.queue.length && this.queue[0].seq > c.sent + 1 && !this.queue[0].pending) {
      // The server acknowledged frames this connection never carried: a
      // POST it read after sending this connection's "o" was answered
      // before the "o" arrived. It numbers frames on a Ferry WebSocket by
      // their order, so restate the number of the next one (PROTOCOL.md
      // section 6).
      if (!c.write(controlMessage('n' + this.queue[0].seq))) {
        return;
      }
      c.sent = this.queue[0].seq - 1;
    }
    for (; i < this.queue.length && c === this.carrier; i++) {
      f = this.queue[i];
      if (f.pending || (credit > 0 && inflight > 0 && inflight + f.size + MESSAGE_OVERHEAD > credit)) {
        break;
      }
      inflight += f.size + MESSAGE_OVERHEAD;
      if (!c.send(f)) {
        return;
      }
      c.sent = f.seq;
      f.sent = true;
      if (f === this.localClose) {
        if (this.remoteClose) {
          this.ackNow();
        }
        this.checkClosed();
      }
    }
  };

  Session.prototype.sendURL = function (seq) {
    return this.url.http + '/.ferry/' + encodeURIComponent(this.sid) + '/send?' +
      query({seq: seq ? seq : undefined, ack: this.recv});
  };

  Session.prototype.maxBatch = function () {
    var m = this.info.maxBodyBytes;
    return this.opts.maxBatchBytes > 0 ? Math.min(m, this.opts.maxBatchBytes) : m;
  };

  // pumpHTTP starts the next POST unless one is in flight or waiting to be
  // retried: every unacknowledged frame that fits, then ack=recv.
  Session.prototype.pumpHTTP = function () {
    var lines = [], frames = [], bytes = 0, max = this.maxBatch(), i, f, line;
    var maxFrames = this.info.maxBodyFrames > 0 ? this.info.maxBodyFrames : Infinity;
    // While the session's first event stream is on trial nothing goes
    // up: it is judged by whether its "o" event gets through a buffering
    // proxy on its own, and echoes of early messages would push it through.
    if (this.post || this.t.has('retry') || !this.sid || this.upBroken || !this.env.XMLHttpRequest ||
        (!this.everUp && (!this.carrier || this.carrier.name === 'sse'))) {
      return;
    }
    for (i = 0; i < this.queue.length; i++) {
      f = this.queue[i];
      if (f.pending) {
        break;
      }
      line = frameLine(f);
      if (lines.length && (bytes + f.lineBytes + 1 > max || lines.length >= maxFrames)) {
        break;
      }
      lines.push(line);
      frames.push(f);
      bytes += f.lineBytes + 1;
    }
    if (!frames.length && !(this.ackDue && this.recv > this.ackSent)) {
      return;
    }
    this.sendPOST(frames, lines.join('\n'));
  };

  Session.prototype.sendPOST = function (frames, body) {
    var self = this, ack = this.recv;
    if (frames.length && frames[frames.length - 1] === this.localClose) {
      this.localClose.posted = true; // the server may have it (see gone)
    }
    this.ackDue = false;
    this.t.clear('ack');
    this.post = request(this.env, {
      method: 'POST', url: this.sendURL(frames.length ? frames[0].seq : 0), body: body,
      timeout: this.opts.requestTimeout, withCredentials: this.opts.withCredentials,
      onDone: function (status, text) {
        self.post = null;
        self.posted(frames, ack, status, text);
      }
    });
  };

  Session.prototype.posted = function (frames, ack, status, text) {
    var self = this, m = /^a(0|[1-9][0-9]*)\s*$/.exec(text || '');
    if (status === 200 && m) {
      this.postFails = 0;
      this.t.clear('postDeadline');
      this.downstreamAcked(ack);
      for (var i = 0; i < frames.length; i++) {
        frames[i].sent = true;
      }
      this.upAck(+m[1]);
      this.pump();
      return;
    }
    if (this.phase === CLOSED) {
      return;
    }
    if (status === 404) {
      this.gone();
      return;
    }
    if (status === 409) {
      this.lost(); // the server is missing frames it acknowledged: cannot recover
      return;
    }
    if (status === 400 || status === 413) {
      // The server refused the batch and closes the session (1007, 1009):
      // its close frame comes downstream. Stop sending, and give up if it
      // never comes.
      this.upBroken = true;
      this.t.set('broken', this.info.resumeTimeoutMs, function () {
        self.lost();
      });
      this.checkClosed();
      return;
    }
    if (this.carrier && this.carrier.name === 'websocket' && this.carrier.up) {
      return; // the Ferry WebSocket carries these frames now
    }
    if (ack > this.ackSent) {
      this.ackDue = true;
    }
    if (!this.t.has('postDeadline')) {
      this.t.set('postDeadline', this.info.resumeTimeoutMs, function () {
        self.lost();
      });
    }
    this.t.set('retry', backoff(this.opts, this.env, ++this.postFails), function () {
      self.pump();
    });
  };

  // readBlob fills a pending frame from a Blob, keeping send order: the
  // pump stops at a pending frame.
  Session.prototype.readBlob = function (f, blob) {
    var self = this, env = this.env, fr;
    function done(buf) {
      f.data = new Uint8Array(buf);
      f.pending = false;
      self.pump();
    }
    function failed() {
      self.finish(ABNORMAL, '', false);
    }
    if (env.FileReader) {
      fr = new env.FileReader();
      fr.onload = function () {
        done(fr.result);
      };
      fr.onerror = failed;
      fr.readAsArrayBuffer(blob);
    } else if (typeof blob.arrayBuffer === 'function') {
      blob.arrayBuffer().then(done, failed);
    } else {
      later(env, failed, 0);
    }
  };

  // --- API entry points and endings -----------------------------------------

  Session.prototype.send = function (data) {
    var f;
    if (typeof data === 'string') {
      f = {kind: 't', data: data, size: utf8Length(data)};
    } else if (isArrayBuffer(data) || isView(data)) {
      f = {kind: 'b', data: copyBytes(data)};
      f.size = f.data.length;
    } else if (isBlob(this.env, data)) {
      f = {kind: 'b', data: null, size: data.size, pending: true};
    } else {
      data = String(data);
      f = {kind: 't', data: data, size: utf8Length(data)};
    }
    if (this.phase !== OPEN) {
      this.discarded += f.size;
      return;
    }
    if (f.pending) {
      this.enqueue(f);
      this.readBlob(f, data);
    } else {
      this.enqueue(f);
    }
  };

  Session.prototype.close = function (code, reason) {
    var self = this;
    if (this.phase === CLOSING || this.phase === CLOSED) {
      return;
    }
    if (this.phase === CONNECTING) {
      this.phase = CLOSING;
      if (this.carrier) {
        this.carrier.close();
        this.carrier = null;
      }
      this.attempt++;
      this.t.set('fail', 0, function () {
        self.finish(ABNORMAL, '', false);
      });
      return;
    }
    this.phase = CLOSING;
    this.enqueueClose(code === undefined ? 1005 : code, reason || '');
  };

  // gone handles a 404: the server has forgotten the session. It forgets
  // one only when it has our close frame and the acknowledgement of its
  // own (PROTOCOL.md section 8), or when it expired, which it cannot while
  // we keep retrying. So once both close frames were exchanged and ours
  // went up in a POST whose answer was lost, a 404 means the close
  // handshake completed.
  Session.prototype.gone = function () {
    if (this.remoteClose && this.localClose && this.localClose.posted) {
      this.localClose.sent = true;
    }
    this.lost();
  };

  Session.prototype.lost = function () {
    if (this.remoteClose && this.localClose && this.localClose.sent) {
      this.finish(this.remoteClose.code, this.remoteClose.reason, true);
    } else {
      this.finish(ABNORMAL, '', false);
    }
  };

  Session.prototype.protocolError = function () {
    this.finish(ABNORMAL, '', false);
  };

  // finish ends the session, stops every carrier and timer, sends the last
  // acknowledgement after a clean close, and reports the close.
  Session.prototype.finish = function (code, reason, clean) {
    var c = this.carrier;
    if (this.phase === CLOSED) {
      return;
    }
    this.phase = CLOSED;
    this.t.clearAll();
    this.carrier = null;
    this.attempt++;
    if (c) {
      if (clean && c.name === 'websocket' && c.up && this.recv > this.ackSent) {
        c.ack(this.recv);
        this.ackSent = this.recv;
      }
      c.finalClose = clean;
      c.close();
    }
    if (!clean && this.post) {
      this.post.abort();
      this.post = null;
    }
    if (clean && this.recv > this.ackSent && this.sid && this.env.XMLHttpRequest) {
      this.finalAck();
    }
    this.sock.onClose(code, reason, clean);
  };

  // finalAck tells the server, best effort, that its close frame arrived,
  // so that it can forget the session at once.
  Session.prototype.finalAck = function () {
    var self = this;
    if (this.post) {
      this.t.set('finalAck', 50, function () {
        self.finalAck();
      });
      return;
    }
    this.ackSent = this.recv;
    this.post = request(this.env, {
      method: 'POST', url: this.sendURL(0), body: '', timeout: this.opts.requestTimeout,
      withCredentials: this.opts.withCredentials,
      onDone: function () {
        self.post = null;
      }
    });
  };

  // ---------------------------------------------------------------------
  // 9. Ferry.WebSocket: the W3C surface
  // ---------------------------------------------------------------------

  var BaseTarget = typeof root.EventTarget === 'function' ? root.EventTarget : null;
  var HANDLERS = ['open', 'message', 'error', 'close'];

  // FerryWebSocket is a drop-in WebSocket constructor. options: see
  // config above; options.env injects browser globals.
  function FerryWebSocket(url, protocols, opts) {
    if (!(this instanceof FerryWebSocket)) {
      throw new TypeError("Failed to construct 'WebSocket': Please use the 'new' operator.");
    }
    if (arguments.length < 1) {
      throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    }
    var o = options(opts), env = resolveEnv(o.env);
    var u = parseURL(env, String(url));
    var list = parseProtocols(env, protocols);
    var self = nativeTarget(env, this.constructor) || this;
    var st = {
      env: env, url: u, binaryType: 'blob', handlers: {}, wrappers: {},
      nativeMode: self !== this, listeners: {}, session: null
    };
    Object.defineProperty(self, '_ferry', {value: st});
    st.session = new Session(hooks(self, st), u, list, o, env);
    st.session.connect();
    return self;
  }

  FerryWebSocket.prototype = Object.create(BaseTarget ? BaseTarget.prototype : Object.prototype);
  Object.defineProperty(FerryWebSocket.prototype, 'constructor', {
    value: FerryWebSocket, writable: true, configurable: true
  });
  if (BaseTarget && Object.setPrototypeOf) {
    Object.setPrototypeOf(FerryWebSocket, BaseTarget); // as "class extends EventTarget" would
  }

  function defineConstants(o) {
    var names = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'];
    for (var i = 0; i < names.length; i++) {
      Object.defineProperty(o, names[i], {value: i, enumerable: true});
    }
  }
  defineConstants(FerryWebSocket);
  defineConstants(FerryWebSocket.prototype);

  // Look like the native constructor where the engine lets us: its name is
  // "WebSocket", it declares one required argument, and instances print as
  // [object WebSocket].
  function lookNative(ctor) {
    /* global Symbol -- ES2015, present in some ES5 engines; checked with typeof */
    try {
      Object.defineProperty(ctor, 'name', {value: 'WebSocket', configurable: true});
      Object.defineProperty(ctor, 'length', {value: 1, configurable: true});
    } catch (e) {
      // ES5 engines: name and length are not configurable
    }
    if (typeof Symbol === 'function' && Symbol.toStringTag) {
      Object.defineProperty(ctor.prototype, Symbol.toStringTag, {value: 'WebSocket', configurable: true});
    }
  }
  lookNative(FerryWebSocket);

  function state(ws) {
    var st = ws && ws._ferry;
    if (!st) {
      throw new TypeError('Illegal invocation');
    }
    return st;
  }

  function getter(name, fn) {
    Object.defineProperty(FerryWebSocket.prototype, name, {
      get: function () {
        return fn(state(this));
      },
      enumerable: true, configurable: true
    });
  }

  getter('url', function (st) {
    return st.url.href;
  });
  getter('readyState', function (st) {
    return st.session.phase;
  });
  getter('bufferedAmount', function (st) {
    return st.session.buffered + st.session.discarded;
  });
  getter('extensions', function () {
    return '';
  });
  getter('protocol', function (st) {
    return st.session.protocol;
  });
  // transport names the carrier in use: websocket, sse, longpoll, or ""
  // before the socket opens. Not part of the W3C API.
  getter('transport', function (st) {
    return st.session.transport;
  });

  Object.defineProperty(FerryWebSocket.prototype, 'binaryType', {
    get: function () {
      return state(this).binaryType;
    },
    set: function (v) {
      if (v === 'blob' || v === 'arraybuffer') {
        state(this).binaryType = v;
      }
    },
    enumerable: true, configurable: true
  });

  function defineHandler(type) {
    Object.defineProperty(FerryWebSocket.prototype, 'on' + type, {
      get: function () {
        return state(this).handlers[type] || null;
      },
      set: function (fn) {
        var st = state(this), self = this;
        fn = typeof fn === 'function' ? fn : null;
        if (!fn) {
          if (st.wrappers[type]) {
            this.removeEventListener(type, st.wrappers[type]);
            st.wrappers[type] = null;
          }
        } else if (!st.wrappers[type]) {
          st.wrappers[type] = function (e) {
            var h = st.handlers[type];
            if (h) {
              return h.call(self, e);
            }
          };
          this.addEventListener(type, st.wrappers[type]);
        }
        st.handlers[type] = fn;
      },
      enumerable: true, configurable: true
    });
  }
  for (var h = 0; h < HANDLERS.length; h++) {
    defineHandler(HANDLERS[h]);
  }

  function captureOf(o) {
    return typeof o === 'object' && o !== null ? !!o.capture : !!o;
  }

  FerryWebSocket.prototype.addEventListener = function (type, fn, o) {
    var st = state(this);
    if (st.nativeMode) {
      return st.env.EventTarget.prototype.addEventListener.call(this, type, fn, o);
    }
    if (fn) {
      addListener(st.listeners, String(type), fn, captureOf(o), !!(o && typeof o === 'object' && o.once));
    }
  };

  FerryWebSocket.prototype.removeEventListener = function (type, fn, o) {
    var st = state(this);
    if (st.nativeMode) {
      return st.env.EventTarget.prototype.removeEventListener.call(this, type, fn, o);
    }
    removeListener(st.listeners, String(type), fn, captureOf(o));
  };

  FerryWebSocket.prototype.dispatchEvent = function (ev) {
    var st = state(this);
    if (st.nativeMode) {
      return st.env.EventTarget.prototype.dispatchEvent.call(this, ev);
    }
    return dispatchSimple(st.env, this, st.listeners, ev);
  };

  FerryWebSocket.prototype.send = function (data) {
    var st = state(this);
    if (arguments.length < 1) {
      throw new TypeError("Failed to execute 'send' on 'WebSocket': 1 argument required, but only 0 present.");
    }
    if (st.session.phase === CONNECTING) {
      throw domError(st.env, "Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", 'InvalidStateError');
    }
    st.session.send(data);
  };

  // clampCode converts code as WebIDL's [Clamp] unsigned short does.
  function clampCode(code) {
    var n = Number(code), r;
    if (n !== n) {
      return 0;
    }
    n = Math.min(Math.max(n, 0), 65535);
    r = Math.floor(n);
    if (n - r > 0.5 || (n - r === 0.5 && r % 2 === 1)) {
      r++;
    }
    return r;
  }

  FerryWebSocket.prototype.close = function (code, reason) {
    var st = state(this), env = st.env;
    if (code !== undefined) {
      code = clampCode(code);
      if (code !== 1000 && (code < 3000 || code > 4999)) {
        throw domError(env, "Failed to execute 'close' on 'WebSocket': The close code must be either 1000, or between 3000 and 4999. " + code + ' is neither.', 'InvalidAccessError');
      }
    }
    if (reason !== undefined) {
      reason = utf8Decode(utf8Encode(String(reason)), 0, null); // to a USVString
      if (utf8Length(reason) > MAX_REASON_BYTES) {
        throw syntaxError(env, "Failed to execute 'close' on 'WebSocket': The close reason must not be greater than 123 UTF-8 bytes.");
      }
    }
    st.session.close(code, reason);
  };

  // hooks turns the session's reports into events on ws.
  function hooks(ws, st) {
    var env = st.env, ME = env.MessageEvent;
    // A native MessageEvent gets only data and origin: lastEventId, source
    // and ports default to '', null and [], and every member given costs
    // its conversion (ports most). One init object serves every message.
    var nativeInit = {data: null, origin: st.url.origin};
    function emit(type, init) {
      ws.dispatchEvent(makeEvent(env, st.nativeMode, type, init));
    }
    return {
      onOpen: function () {
        emit('open', {});
      },
      onMessage: function (kind, payload) {
        var data = payload, ev;
        if (kind === 'b') {
          data = bufferOf(payload);
          if (st.binaryType === 'blob' && env.Blob) {
            try {
              data = new env.Blob([data]);
            } catch (e) {
              // no usable Blob: deliver the ArrayBuffer
            }
          }
        }
        if (st.nativeMode && typeof ME === 'function') {
          nativeInit.data = data;
          ev = new ME('message', nativeInit);
          nativeInit.data = null;
          ws.dispatchEvent(ev);
          return;
        }
        emit('message', {data: data, origin: st.url.origin, lastEventId: '', source: null, ports: []});
      },
      onClose: function (code, reason, clean) {
        if (!clean) {
          emit('error', {});
        }
        emit('close', {code: code, reason: reason, wasClean: clean});
      }
    };
  }

  // ---------------------------------------------------------------------
  // 10. Ferry: install, configure
  // ---------------------------------------------------------------------

  // configure changes the defaults for sockets created afterwards and
  // returns a copy of them.
  function configure(o) {
    var k;
    if (o) {
      for (k in o) {
        if (own(o, k) && own(config, k) && k !== 'env') {
          config[k] = o[k];
        }
      }
      if (own(o, 'env')) {
        config.env = merge({}, o.env);
      }
      if (typeof config.transports === 'string') {
        config.transports = [config.transports];
      }
    }
    var out = merge({}, config);
    out.env = merge({}, config.env);
    return out;
  }

  // install makes Ferry.WebSocket the page's WebSocket (target defaults to
  // the global object); the native one stays in use underneath.
  function install(target) {
    var t = target || root;
    if (t.WebSocket !== FerryWebSocket) {
      if (t.WebSocket) {
        nativeWebSocket = t.WebSocket;
      }
      t.WebSocket = FerryWebSocket;
    }
  }

  // uninstall puts the native WebSocket back.
  function uninstall(target) {
    var t = target || root;
    if (t.WebSocket === FerryWebSocket) {
      t.WebSocket = nativeWebSocket;
    }
  }

  return {
    version: VERSION,
    WebSocket: FerryWebSocket,
    configure: configure,
    install: install,
    uninstall: uninstall,
    transports: TRANSPORTS,
    // Internals, exported for tests and second implementations.
    _internal: {
      utf8Encode: utf8Encode,
      utf8Decode: utf8Decode,
      utf8Length: utf8Length,
      base64Encode: base64Encode,
      base64Decode: base64Decode,
      escapeText: escapeText,
      unescapeText: unescapeText,
      parseSequenced: parseSequenced,
      parseNumber: parseNumber,
      frameLine: frameLine,
      StreamParser: StreamParser,
      parseURL: parseURL,
      resolveEnv: resolveEnv
    }
  };
}));
