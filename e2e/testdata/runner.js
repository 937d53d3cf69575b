/*
 * Ferry e2e runner. Go calls E2E.start(target, name, params), which returns
 * a job id, then polls E2E.result(id) until it returns a JSON string:
 *
 *   {"checks": {...}, "info": {...}}   or   {"error": "..."}
 *
 * "checks" must be identical for the native WebSocket and for Ferry on
 * every transport (the differential tests compare them key by key); "info"
 * is logged only (timings, the transport in use).
 *
 * target: "native" (the browser's WebSocket, at the plain service URL),
 * "websocket" | "sse" | "longpoll" (Ferry.WebSocket forced onto one
 * transport), "auto" (Ferry.WebSocket with the default order), or
 * "installed" (window.WebSocket after Ferry.install()).
 *
 * ES5 only, and no WebSocket, EventSource, fetch, Promise, TextEncoder,
 * Blob, URL or DOM event constructors at load time: the legacy tests run
 * it in pages where those globals were deleted.
 */
(function (root) {
  'use strict';

  var NativeWS = root.WebSocket;
  var conf = {host: root.location.host};
  var results = {};
  var nextId = 1;
  var CASES = {};

  // --- bytes and strings -------------------------------------------------

  function hex(u8, max) {
    var s = '', i, n = Math.min(u8.length, max || u8.length);
    for (i = 0; i < n; i++) {
      s += (u8[i] < 16 ? '0' : '') + u8[i].toString(16);
    }
    return n < u8.length ? s + '…' : s;
  }

  // fnv is FNV-1a over bytes or UTF-16 code units.
  function fnv(x) {
    var h = 0x811c9dc5, i, isStr = typeof x === 'string';
    for (i = 0; i < x.length; i++) {
      h ^= isStr ? x.charCodeAt(i) : x[i];
      h = (h + ((h << 1) + (h << 4) + (h << 7) + (h << 8) + (h << 24))) >>> 0;
    }
    return ('0000000' + h.toString(16)).slice(-8);
  }

  // usv replaces lone surrogates with U+FFFD, as WebIDL's USVString does.
  function usv(s) {
    var out = '', i, c, d;
    for (i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          out += s.charAt(i) + s.charAt(i + 1);
          i++;
          continue;
        }
        out += '\ufffd';
      } else if (c >= 0xdc00 && c <= 0xdfff) {
        out += '\ufffd';
      } else {
        out += s.charAt(i);
      }
    }
    return out;
  }

  // esc shows a string with every non-printable-ASCII code unit escaped.
  function esc(s) {
    var out = '', i, c;
    for (i = 0; i < s.length; i++) {
      c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x7f && c !== 0x5c) {
        out += s.charAt(i);
      } else {
        out += '\\u' + ('000' + c.toString(16)).slice(-4);
      }
    }
    return out;
  }

  function repeat(s, n) {
    var out = '';
    while (n > 0) {
      if (n & 1) {
        out += s;
      }
      s += s;
      n >>= 1;
    }
    return out;
  }

  function pattern(n, mul) {
    var u8 = new Uint8Array(n), i;
    for (i = 0; i < n; i++) {
      u8[i] = (i * mul + 7) & 255;
    }
    return u8;
  }

  function viewBytes(v) {
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }

  function sameBytes(a, b) {
    if (a.length !== b.length) {
      return false;
    }
    for (var i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        return false;
      }
    }
    return true;
  }

  // describe reports a received message: kind, length and content (short
  // ones in full, long ones as a hash). Blobs are read first.
  function describe(data, cb) {
    if (typeof data === 'string') {
      cb({kind: 'text', len: data.length, text: data.length <= 200 ? esc(data) : 'fnv:' + fnv(data)}, data);
      return;
    }
    if (typeof ArrayBuffer !== 'undefined' && data instanceof ArrayBuffer) {
      var u8 = new Uint8Array(data);
      cb({kind: 'arraybuffer', len: u8.length, bytes: u8.length <= 64 ? hex(u8) : 'fnv:' + fnv(u8)}, u8);
      return;
    }
    if (typeof root.Blob === 'function' && data instanceof root.Blob) {
      var fr = new root.FileReader();
      fr.onload = function () {
        var b = new Uint8Array(fr.result);
        cb({kind: 'blob', len: b.length, type: data.type, bytes: b.length <= 64 ? hex(b) : 'fnv:' + fnv(b)}, b);
      };
      fr.onerror = function () {
        cb({kind: 'blob', error: 'FileReader failed'}, null);
      };
      fr.readAsArrayBuffer(data);
      return;
    }
    cb({kind: 'other:' + Object.prototype.toString.call(data)}, null);
  }

  function errName(e) {
    if (e && e.name) {
      var D = root.DOMException;
      var cls = typeof D === 'function' && e instanceof D ? 'DOMException' : e instanceof TypeError ? 'TypeError' : 'Error';
      return 'throws ' + cls + ':' + e.name;
    }
    return 'throws ' + String(e);
  }

  function attempt(fn) {
    try {
      var v = fn();
      return v === undefined ? 'ok' : v;
    } catch (e) {
      return errName(e);
    }
  }

  function closeInfo(e) {
    return e.code + ':' + esc(e.reason) + ':' + e.wasClean;
  }

  // --- jobs --------------------------------------------------------------

  function ctorFor(target) {
    if (target === 'native') {
      return NativeWS;
    }
    if (target === 'installed') {
      return root.WebSocket;
    }
    return root.Ferry && root.Ferry.WebSocket;
  }

  function makerFor(target) {
    var W = ctorFor(target);
    if (target === 'native' || target === 'installed') {
      return function (url, protocols) {
        return arguments.length < 2 ? new W(url) : new W(url, protocols);
      };
    }
    var opts = target === 'auto' ? undefined : {transports: [target]};
    return function (url, protocols) {
      return new W(url, protocols, opts);
    };
  }

  function start(target, name, params) {
    var id = nextId++, finished = false, socks = [], t, timer;
    params = params || {};
    function finish(r) {
      if (finished) {
        return;
      }
      finished = true;
      clearTimeout(timer);
      for (var i = 0; i < socks.length; i++) {
        try {
          if (socks[i].readyState < 2) {
            socks[i].close();
          }
        } catch (ignore) {
          // best effort
        }
      }
      results[id] = JSON.stringify(r);
    }
    timer = setTimeout(function () {
      if (t && t.probe) {
        t.probe();
      }
      finish({error: 'case timed out in the page after ' + (params.timeoutMs || 60000) + ' ms', partial: t && t.partial});
    }, params.timeoutMs || 60000);
    var make = makerFor(target);
    t = {
      target: target,
      params: params,
      W: ctorFor(target),
      ferry: target !== 'native',
      partial: null,
      url: function (path) {
        return 'ws://' + conf.host + path;
      },
      make: function (url, protocols) {
        var ws = arguments.length < 2 ? make(url) : make(url, protocols);
        socks.push(ws);
        return ws;
      },
      done: function (checks, info) {
        info = info || {};
        if (info.transport === undefined && t.transport !== undefined) {
          info.transport = t.transport;
        }
        finish({checks: checks, info: info});
      },
      fail: function (msg) {
        if (t.probe) {
          t.probe();
        }
        finish({error: msg, partial: t.partial});
      }
    };
    if (!CASES[name]) {
      finish({error: 'no case ' + name});
    } else if (!t.W) {
      finish({error: 'no constructor for ' + target + ' (typeof Ferry: ' + typeof root.Ferry + ')'});
    } else {
      try {
        CASES[name](t);
      } catch (e) {
        finish({error: 'case threw: ' + (e && e.stack || e)});
      }
    }
    return id;
  }

  function result(id) {
    var r = results[id];
    if (r === undefined) {
      return '';
    }
    delete results[id];
    return r;
  }

  // --- helpers for cases -------------------------------------------------

  // open makes a socket at path and calls cb(ws) once it is open, or
  // t.fail if it closes first.
  function open(t, path, cb, protocols) {
    var ws = protocols === undefined ? t.make(t.url(path)) : t.make(t.url(path), protocols);
    ws.binaryType = 'arraybuffer';
    ws.onopen = function () {
      ws.onopen = null;
      ws.onclose = null;
      t.transport = ws.transport || 'native';
      cb(ws);
    };
    ws.onclose = function (e) {
      t.fail('closed before open: ' + closeInfo(e));
    };
    return ws;
  }

  // collect gathers n messages (described) and calls cb(list, raw).
  function collect(ws, n, cb) {
    var got = [], raw = [], pending = 0, seen = 0, ended = false;
    function check() {
      if (!ended && seen === n && pending === 0) {
        ended = true;
        ws.onmessage = null;
        cb(got, raw);
      }
    }
    if (n === 0) {
      check();
      return;
    }
    ws.onmessage = function (e) {
      var i = seen++;
      pending++;
      describe(e.data, function (d, payload) {
        got[i] = d;
        raw[i] = payload;
        pending--;
        check();
      });
    };
  }

  // sequence runs steps one after another; each step is function(next).
  function sequence(steps, done) {
    var i = 0;
    function next() {
      if (i >= steps.length) {
        done();
        return;
      }
      var s = steps[i++];
      s(next);
    }
    next();
  }

  function keysOf(o) {
    var out = [], k;
    for (k in o) {
      out.push(k);
    }
    return out.sort();
  }

  // --- cases: construction -----------------------------------------------

  CASES['initial-state'] = function (t) {
    var W = t.W, ws = t.make(t.url('/echo')), c = {};
    var names = ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'], i, d;
    for (i = 0; i < names.length; i++) {
      d = Object.getOwnPropertyDescriptor(W, names[i]);
      c['ctor.' + names[i]] = W[names[i]];
      c['ctor.' + names[i] + '.desc'] = d ? [d.writable, d.enumerable, d.configurable].join(',') : 'none';
      c['proto.' + names[i]] = W.prototype[names[i]];
      c['inst.' + names[i]] = ws[names[i]];
    }
    c['inst.OPEN=7'] = attempt(function () {
      ws.OPEN = 7;
      return ws.OPEN;
    });
    c.readyState = ws.readyState;
    c.url = ws.url.split(conf.host).join('H');
    c.protocol = ws.protocol;
    c.extensions = ws.extensions;
    c.binaryType = ws.binaryType;
    c.bufferedAmount = ws.bufferedAmount;
    c.handlers = [ws.onopen, ws.onmessage, ws.onerror, ws.onclose].join(',') + '|' +
      [ws.onopen === null, ws.onmessage === null, ws.onerror === null, ws.onclose === null].join(',');
    c.eventTarget = typeof root.EventTarget === 'function' && ws instanceof root.EventTarget;
    c.instanceofCtor = ws instanceof W;
    c.methods = [typeof ws.send, typeof ws.close, typeof ws.addEventListener,
      typeof ws.removeEventListener, typeof ws.dispatchEvent].join(',');
    c.ownKeys = Object.keys(ws).join(',');
    c.readyStateReadOnly = attempt(function () {
      ws.readyState = 3;
      return ws.readyState;
    });
    c.sendNoArgs = attempt(function () {
      ws.send();
    });
    c.sendConnecting = attempt(function () {
      ws.send('x');
    });
    c.newWithoutArgs = attempt(function () {
      new W().close();
      return 'constructed';
    });
    c.callWithoutNew = attempt(function () {
      W(t.url('/echo')).close();
      return 'constructed';
    });
    ws.close();
    t.done(c);
  };

  // cosmetics holds checks that no library is likely to depend on, kept
  // apart so a mismatch here reads as what it is.
  CASES.cosmetics = function (t) {
    var W = t.W, ws = t.make(t.url('/echo')), c = {};
    c['ctor.name'] = W.name;
    c['ctor.length'] = W.length;
    c.toStringTag = Object.prototype.toString.call(ws);
    c.forInKeys = keysOf(ws).filter(function (k) {
      return k !== 'transport';
    }).join(',');
    ws.onopen = {};
    c['onopen={}'] = typeof ws.onopen;
    ws.onopen = 'str';
    c['onopen="str"'] = String(ws.onopen);
    ws.close();
    t.done(c);
  };

  CASES['ctor-url'] = function (t) {
    var H = conf.host, c = {};
    var inputs = [
      ['ws', 'ws://H/echo'],
      ['wss', 'wss://H/echo'],
      ['http', 'http://H/echo'],
      ['https', 'https://H/echo'],
      ['ftp', 'ftp://H/echo'],
      ['file', 'file:///tmp/x'],
      ['javascript', 'javascript:void(0)'],
      ['data', 'data:text/plain,x'],
      ['fragment', 'ws://H/echo#frag'],
      ['empty-fragment', 'ws://H/echo#'],
      ['absolute-path', '/echo'],
      ['relative-path', 'echo'],
      ['scheme-relative', '//H/echo'],
      ['query', 'ws://H/echo?a=1&b=%20c'],
      ['query-only', '?x=1'],
      ['uppercase', 'WS://H/Echo'],
      ['no-path', 'ws://H'],
      ['dot-segments', 'ws://H/a/../echo/./'],
      ['default-port', 'ws://127.0.0.1:80/echo'],
      ['invalid-host', 'ws://[oops/echo'],
      ['bad-port', 'ws://H:99999/echo'],
      ['no-host', 'ws:///echo'],
      ['spaces', '  ws://H/echo  '],
      ['empty', ''],
      ['backslashes', 'ws:\\\\H\\echo'],
      ['non-ascii-path', 'ws://H/\u00e9 x'],
      ['userinfo', 'ws://u:p@H/echo']
    ];
    for (var i = 0; i < inputs.length; i++) {
      (function (label, input) {
        input = input.split('H').join(H);
        c[label] = attempt(function () {
          var ws = t.make(input);
          var u = ws.url.split(H).join('H');
          ws.close();
          return 'ok ' + u;
        });
      }(inputs[i][0], inputs[i][1]));
    }
    c.undefinedURL = attempt(function () {
      var ws = t.make(undefined);
      var u = ws.url.split(H).join('H');
      ws.close();
      return 'ok ' + u;
    });
    t.done(c);
  };

  CASES['ctor-protocols'] = function (t) {
    var c = {};
    t.partial = c;
    var lists = [
      ['undefined', undefined],
      ['empty-array', []],
      ['string', 'chat'],
      ['array', ['chat', 'superchat']],
      ['number', [1]],
      ['null-entry', [null]],
      ['all-token-chars', ["!#$%&'*+-.^_`|~09AZaz"]],
      ['duplicate', ['chat', 'chat']],
      ['duplicate-case', ['Chat', 'chat']],
      ['space', ['a b']],
      ['comma', ['a,b']],
      ['empty-string', ''],
      ['empty-in-array', ['']],
      ['non-ascii', ['caf\u00e9']],
      ['control', ['a\u0001']],
      ['slash', ['a/b']],
      ['brace', ['{x}']]
    ];
    var steps = [];
    for (var i = 0; i < lists.length; i++) {
      (function (label, list) {
        steps.push(function (next) {
          var ws;
          try {
            ws = t.make(t.url('/echo'), list);
          } catch (e) {
            c[label] = errName(e);
            next();
            return;
          }
          var before = ws.protocol;
          ws.onopen = function () {
            c[label] = 'open protocol=' + JSON.stringify(ws.protocol) + ' before=' + JSON.stringify(before);
            ws.close();
          };
          ws.onclose = function (e) {
            if (!c[label]) {
              c[label] = 'closed ' + closeInfo(e);
            }
            next();
          };
        });
      }(lists[i][0], lists[i][1]));
    }
    sequence(steps, function () {
      t.done(c);
    });
  };

  // --- cases: state and events -------------------------------------------

  CASES['ready-state'] = function (t) {
    var ws = t.make(t.url('/echo')), seq = ['ctor:' + ws.readyState];
    ws.onopen = function () {
      seq.push('open:' + ws.readyState);
      ws.close(1000);
      seq.push('after-close:' + ws.readyState);
      seq.push('close-again:' + attempt(function () {
        ws.close(1000);
      }) + ':' + ws.readyState);
      seq.push('send-closing:' + attempt(function () {
        ws.send('x');
      }));
    };
    ws.onerror = function () {
      seq.push('error:' + ws.readyState);
    };
    ws.onclose = function (e) {
      seq.push('close:' + ws.readyState + ':' + closeInfo(e));
      setTimeout(function () {
        seq.push('later:' + ws.readyState);
        t.done({sequence: seq.join(' ')});
      }, 50);
    };
  };

  // event-order: open, then every echo, then close, with listeners added
  // both ways.
  CASES['event-order'] = function (t) {
    var ws = t.make(t.url('/echo')), log = [], n = 0;
    ws.binaryType = 'arraybuffer';
    function rec(kind) {
      return function (e) {
        var s = kind;
        if (e.type === 'message') {
          s += ':' + (typeof e.data === 'string' ? e.data : 'bin' + new Uint8Array(e.data).length);
        }
        if (e.type === 'close') {
          s += ':' + closeInfo(e);
        }
        log.push(s);
      };
    }
    var types = ['open', 'message', 'error', 'close'];
    for (var i = 0; i < types.length; i++) {
      ws.addEventListener(types[i], rec('L-' + types[i]));
    }
    ws.onopen = function (e) {
      rec('H-open')(e);
      ws.send('one');
      ws.send(new Uint8Array([1, 2, 3]).buffer);
      ws.send('three');
    };
    ws.onmessage = function (e) {
      rec('H-message')(e);
      if (++n === 3) {
        ws.close(1000, 'done');
      }
    };
    ws.onerror = rec('H-error');
    ws.onclose = function (e) {
      rec('H-close')(e);
      setTimeout(function () {
        t.done({log: log.join(' ')});
      }, 50);
    };
  };

  // close-in-flight: close() right after sends; the echoes arrive while
  // the socket is CLOSING.
  CASES['close-in-flight'] = function (t) {
    var log = [];
    open(t, '/echo', function (ws) {
      ws.onmessage = function (e) {
        log.push('message:' + e.data + ':rs' + ws.readyState);
      };
      ws.onerror = function () {
        log.push('error');
      };
      ws.onclose = function (e) {
        log.push('close:' + closeInfo(e));
        setTimeout(function () {
          t.done({log: log.join(' ')});
        }, 100);
      };
      ws.send('a');
      ws.send('b');
      ws.close(4000, 'bye');
      log.push('closed:rs' + ws.readyState);
    });
  };

  CASES['event-objects'] = function (t) {
    var c = {}, ws = t.make(t.url('/echo'));
    t.partial = c;
    function common(prefix, e) {
      c[prefix + '.type'] = e.type;
      c[prefix + '.class'] = Object.prototype.toString.call(e);
      c[prefix + '.instanceofEvent'] = e instanceof root.Event;
      c[prefix + '.target'] = e.target === ws;
      c[prefix + '.currentTarget'] = e.currentTarget === ws;
      c[prefix + '.this'] = this === ws;
      c[prefix + '.bubbles'] = e.bubbles;
      c[prefix + '.cancelable'] = e.cancelable;
      c[prefix + '.eventPhase'] = e.eventPhase;
      c[prefix + '.defaultPrevented'] = e.defaultPrevented;
    }
    ws.onopen = function (e) {
      common.call(this, 'open', e);
      ws.send('hi');
    };
    ws.onmessage = function (e) {
      common.call(this, 'message', e);
      c['message.instanceofMessageEvent'] = e instanceof root.MessageEvent;
      c['message.data'] = e.data;
      c['message.origin'] = e.origin.split(conf.host).join('H');
      c['message.lastEventId'] = e.lastEventId;
      c['message.source'] = e.source;
      c['message.ports'] = Object.prototype.toString.call(e.ports) + ':' + (e.ports && e.ports.length);
      ws.close(3001, 'r');
    };
    ws.onclose = function (e) {
      common.call(this, 'close', e);
      c['close.instanceofCloseEvent'] = e instanceof root.CloseEvent;
      c['close.code'] = e.code;
      c['close.reason'] = e.reason;
      c['close.wasClean'] = e.wasClean;
      var fail = t.make(t.url('/nope'));
      fail.onerror = function (e) {
        c['error.type'] = e.type;
        c['error.class'] = Object.prototype.toString.call(e);
        c['error.instanceofEvent'] = e instanceof root.Event;
        c['error.target'] = e.target === fail;
      };
      fail.onclose = function (e) {
        c['fail.close.class'] = Object.prototype.toString.call(e);
        c['fail.close.code'] = e.code;
        c['fail.close.wasClean'] = e.wasClean;
        t.done(c, {isTrusted: String(e.isTrusted)});
      };
    };
  };

  // handlers: on* attributes and listeners, with synthetic events (no
  // network needed beyond the socket).
  CASES.handlers = function (t) {
    var ws = t.make(t.url('/echo')), calls = [], c = {};
    function tag(name) {
      return function (e) {
        calls.push(name + (e && e.data ? '=' + e.data : ''));
      };
    }
    function fire(label, data) {
      calls = [];
      var ok = ws.dispatchEvent(new root.MessageEvent('message', {data: data}));
      c[label] = calls.join(',') + ' ret=' + ok;
    }
    ws.addEventListener('message', tag('A'));
    ws.onmessage = tag('B');
    ws.addEventListener('message', tag('C'));
    fire('order', '1');
    ws.onmessage = tag('D');
    fire('replace-keeps-position', '2');
    ws.onmessage = null;
    ws.onmessage = tag('E');
    fire('null-then-set-appends', '3');
    var once = tag('O');
    ws.addEventListener('message', once, {once: true});
    fire('once-first', '4');
    fire('once-second', '5');
    var F = tag('F');
    ws.addEventListener('message', F);
    ws.addEventListener('message', F);
    fire('duplicate-listener', '6');
    ws.removeEventListener('message', F);
    fire('removed', '7');
    ws.addEventListener('message', {handleEvent: tag('Obj')});
    fire('handleEvent-object', '8');
    var pd = function (e) {
      e.preventDefault();
    };
    ws.addEventListener('message', pd);
    calls = [];
    c.cancelable = ws.dispatchEvent(new root.MessageEvent('message', {data: '9', cancelable: true}));
    ws.removeEventListener('message', pd);
    calls = [];
    ws.onopen = tag('onopen');
    ws.onclose = null;
    var ret = ws.dispatchEvent(new root.Event('open'));
    c['synthetic-open'] = calls.join(',') + ' ret=' + ret + ' rs=' + ws.readyState;
    calls = [];
    ws.dispatchEvent(new root.Event('custom'));
    c['custom-event'] = calls.join(',');
    c['dispatch-non-event'] = attempt(function () {
      ws.dispatchEvent({type: 'message'});
    });
    c['handler-getter'] = typeof ws.onmessage;
    ws.onopen = null;
    ws.onmessage = null;
    ws.close();
    t.done(c);
  };

  CASES['binary-type'] = function (t) {
    var c = {}, ws = t.make(t.url('/echo'));
    t.partial = c;
    c['default'] = ws.binaryType;
    ws.binaryType = 'arraybuffer';
    c['set-arraybuffer'] = ws.binaryType;
    ws.binaryType = 'foo';
    c['set-invalid'] = ws.binaryType;
    ws.binaryType = 'BLOB';
    c['set-uppercase'] = ws.binaryType;
    ws.binaryType = 'blob';
    c['set-blob'] = ws.binaryType;
    ws.onopen = function () {
      collect(ws, 4, function (got) {
        c['received-as-blob'] = got[0];
        c['switched-after-send'] = got[1];
        c['received-as-arraybuffer'] = got[2];
        c['text-with-arraybuffer'] = got[3];
        t.done(c);
      });
      ws.send(new Uint8Array([1, 2, 3]));
      ws.send(new Uint8Array([4, 5]));
      ws.binaryType = 'arraybuffer';
      // Give the first two echoes time to arrive before the next ones.
      setTimeout(function () {
        ws.send(new Uint8Array([6]));
        ws.send('txt');
      }, 0);
    };
  };

  // --- cases: sending ----------------------------------------------------

  function typedViews() {
    var buf = new ArrayBuffer(64), u8 = new Uint8Array(buf), i;
    for (i = 0; i < 64; i++) {
      u8[i] = (i * 37 + 11) & 255;
    }
    var list = [
      ['Uint8Array@3+5', new Uint8Array(buf, 3, 5)],
      ['Int8Array@1+4', new Int8Array(buf, 1, 4)],
      ['Uint8ClampedArray@5+3', new Uint8ClampedArray(buf, 5, 3)],
      ['Int16Array@2+3', new Int16Array(buf, 2, 3)],
      ['Uint16Array@4+2', new Uint16Array(buf, 4, 2)],
      ['Int32Array@8+2', new Int32Array(buf, 8, 2)],
      ['Uint32Array@4+3', new Uint32Array(buf, 4, 3)],
      ['Float32Array@12+2', new Float32Array(buf, 12, 2)],
      ['Float64Array@16+2', new Float64Array(buf, 16, 2)],
      ['DataView@7+9', new DataView(buf, 7, 9)],
      ['Uint8Array-whole', new Uint8Array(buf)],
      ['Uint8Array@64+0', new Uint8Array(buf, 64, 0)]
    ];
    if (typeof root.BigInt64Array === 'function') {
      list.push(['BigInt64Array@8+2', new root.BigInt64Array(buf, 8, 2)]);
      list.push(['BigUint64Array@24+1', new root.BigUint64Array(buf, 24, 1)]);
    }
    if (typeof root.Float16Array === 'function') {
      list.push(['Float16Array@6+3', new root.Float16Array(buf, 6, 3)]);
    }
    return list;
  }

  CASES['send-types'] = function (t) {
    open(t, '/echo', function (ws) {
      var items = [
        ['string', 'hello', 'text'],
        ['empty-string', '', 'text'],
        ['ArrayBuffer', pattern(10, 1).buffer, 'bytes'],
        ['empty-ArrayBuffer', new ArrayBuffer(0), 'bytes'],
        ['null', null, 'coerce'],
        ['number', 123.5, 'coerce'],
        ['object', {toString: function () {
          return 'custom';
        }}, 'coerce'],
        ['boolean', true, 'coerce']
      ];
      var views = typedViews(), i;
      for (i = 0; i < views.length; i++) {
        items.push([views[i][0], views[i][1], 'bytes']);
      }
      items.push(['Blob', new root.Blob(['ab', new Uint8Array([0, 255])], {type: 'text/plain'}), 'blob']);
      items.push(['empty-Blob', new root.Blob([]), 'blob']);
      items.push(['string-after-blob', 'tail', 'text']);
      var c = {}, expect = [];
      t.partial = c;
      for (i = 0; i < items.length; i++) {
        var it = items[i];
        if (it[2] === 'bytes') {
          expect.push(it[1] instanceof ArrayBuffer ? new Uint8Array(it[1].slice(0)) : new Uint8Array(viewBytes(it[1])));
        } else if (it[2] === 'blob') {
          expect.push(null);
        } else {
          expect.push(String(it[1]));
        }
        c['send ' + it[0]] = attempt((function (v) {
          return function () {
            ws.send(v);
          };
        }(it[1])));
      }
      collect(ws, items.length, function (got, raw) {
        for (var j = 0; j < items.length; j++) {
          var d = got[j];
          if (expect[j] !== null) {
            d.same = typeof expect[j] === 'string' ? raw[j] === expect[j] : raw[j] !== null && sameBytes(raw[j], expect[j]);
          }
          c['echo ' + items[j][0]] = d;
        }
        t.done(c);
      });
    });
  };

  function mixedText(n) {
    var unit = 'abc\u00e9\u20ac\ud83d\ude00\r\n\u0000\u2028\\"<>';
    return repeat(unit, Math.ceil(n / unit.length)).slice(0, n);
  }

  CASES['send-large'] = function (t) {
    open(t, '/echo', function (ws) {
      var K = 1024, items = [
        ['text-65KB', mixedText(65 * K)],
        ['binary-65KB', pattern(65 * K, 7)],
        ['text-1MB', mixedText(K * K)],
        ['binary-1MB', pattern(K * K, 13)]
      ];
      var c = {}, t0 = Date.now();
      t.partial = c;
      for (var i = 0; i < items.length; i++) {
        ws.send(items[i][1]);
      }
      collect(ws, items.length, function (got, raw) {
        for (var j = 0; j < items.length; j++) {
          var want = items[j][1];
          got[j].same = typeof want === 'string' ? raw[j] === usv(want) : sameBytes(raw[j], want);
          c[items[j][0]] = got[j];
        }
        t.done(c, {ms: Date.now() - t0});
      });
    });
  };

  CASES.unicode = function (t) {
    var strings = [
      ['latin1', 'h\u00e9llo'],
      ['cjk', '\u65e5\u672c\u8a9e'],
      ['emoji-pair', '\ud83d\ude00'],
      ['pair-in-text', 'a\ud83d\ude00b\ud800\udc00c'],
      ['max-code-point', '\udbff\udfff'],
      ['lone-high', '\ud800'],
      ['lone-low', '\udc00'],
      ['reversed-pair', '\ude00\ud83d'],
      ['high-at-end', 'abc\ud83d'],
      ['nul', 'a\u0000b'],
      ['cr-lf', '\r\n\r\n'],
      ['lone-cr', 'a\rb'],
      ['sse-lookalike', 'data: x\n\nid: 9\nevent: y\n'],
      ['backslashes', '\\ \\n \\\\ \\r'],
      ['line-separators', '\u2028\u2029\u0085'],
      ['bom', '\ufeffbom'],
      ['nonchars', '\ufffe\uffff'],
      ['replacement', '\ufffd'],
      ['controls', '\u0001\u0007\u001b\u007f']
    ];
    open(t, '/echo', function (ws) {
      var c = {}, i;
      t.partial = c;
      for (i = 0; i < strings.length; i++) {
        ws.send(strings[i][1]);
      }
      var bin = new Uint8Array([0xef, 0xbb, 0xbf, 0xff, 0xfe, 0xc0, 0x80, 0xed, 0xa0, 0x80]);
      ws.send(bin);
      collect(ws, strings.length + 1, function (got, raw) {
        for (var j = 0; j < strings.length; j++) {
          c[strings[j][0]] = {echo: got[j].text, same: raw[j] === usv(strings[j][1])};
        }
        c['invalid-utf8-as-binary'] = {echo: got[j].bytes, same: sameBytes(raw[j], bin)};
        t.done(c);
      });
    });
  };

  // --- cases: closing ----------------------------------------------------

  CASES['close-args'] = function (t) {
    open(t, '/echo', function (ws) {
      var c = {}, codes = [
        ['999', 999], ['1001', 1001], ['1005', 1005], ['1006', 1006], ['1015', 1015],
        ['2999', 2999], ['5000', 5000], ['0', 0], ['-1', -1], ['65536', 65536], ['66536', 66536],
        ['NaN', NaN], ['Infinity', Infinity], ['null', null], ['abc', 'abc']
      ], i;
      t.partial = c;
      for (i = 0; i < codes.length; i++) {
        c['code ' + codes[i][0]] = attempt((function (v) {
          return function () {
            ws.close(v);
          };
        }(codes[i][1])));
      }
      var r124 = repeat('r', 124), e62 = repeat('\u00e9', 62), s41 = repeat('\ud83d\ude00', 31);
      c['reason 124 ASCII'] = attempt(function () {
        ws.close(1000, r124);
      });
      c['reason 62 x U+00E9 (124 bytes)'] = attempt(function () {
        ws.close(1000, e62);
      });
      c['reason 31 emoji (124 bytes)'] = attempt(function () {
        ws.close(3000, s41);
      });
      c['code 999 + reason 124'] = attempt(function () {
        ws.close(999, r124);
      });
      c['reason only, 124'] = attempt(function () {
        ws.close(undefined, r124);
      });
      c['readyState after'] = ws.readyState;
      if (ws.readyState !== 1) {
        t.done(c); // a call above closed the socket
        return;
      }
      ws.send('still open');
      collect(ws, 1, function (got) {
        c['echo after'] = got[0];
        t.done(c);
      });
    });
  };

  // close-client: the client closes with each valid code and reason; the
  // server echoes them in its close.
  CASES['close-client'] = function (t) {
    var K = [
      ['no-args', []],
      ['1000', [1000]],
      ['1000+reason', [1000, 'bye']],
      ['3000', [3000, 'x']],
      ['4999+123B', [4999, repeat('r', 123)]],
      ['4000+123B-utf8', [4000, repeat('\u20ac', 41)]],
      ['reason-only', [undefined, 'only reason']],
      ['undefined-code', [undefined]],
      ['1000.4', [1000.4]],
      ['3000.5', [3000.5]],
      ['3001.5', [3001.5]],
      ['999.6', [999.6]],
      ['string-code', ['3002', 'str']],
      ['lone-surrogate-reason', [4001, 'a\ud800']],
      ['empty-reason', [4002, '']]
    ];
    var c = {}, steps = [];
    t.partial = c;
    for (var i = 0; i < K.length; i++) {
      (function (label, args) {
        steps.push(function (next) {
          var ws = t.make(t.url('/echo'));
          ws.onopen = function () {
            var r = attempt(function () {
              ws.close.apply(ws, args);
            });
            c[label + ' call'] = r + ' rs=' + ws.readyState;
            if (r !== 'ok') {
              ws.close();
            }
          };
          ws.onclose = function (e) {
            c[label] = closeInfo(e);
            next();
          };
        });
      }(K[i][0], K[i][1]));
    }
    sequence(steps, function () {
      t.done(c);
    });
  };

  CASES['close-connecting'] = function (t) {
    var c = {}, steps = [];
    t.partial = c;
    var K = [['no-args', []], ['4000', [4000, 'early']]];
    for (var i = 0; i < K.length; i++) {
      (function (label, args) {
        steps.push(function (next) {
          var ws = t.make(t.url('/echo')), log = [];
          ws.onopen = function () {
            log.push('open');
          };
          ws.onerror = function () {
            log.push('error:rs' + ws.readyState);
          };
          ws.onclose = function (e) {
            log.push('close:' + closeInfo(e) + ':rs' + ws.readyState);
            setTimeout(function () {
              c[label] = log.join(' ');
              next();
            }, 100);
          };
          ws.close.apply(ws, args);
          log.push('called:rs' + ws.readyState);
        });
      }(K[i][0], K[i][1]));
    }
    sequence(steps, function () {
      t.done(c);
    });
  };

  // close-server: the /closer service closes with the code and reason it
  // is sent, after echoing what came before.
  CASES['close-server'] = function (t) {
    var K = [
      ['4321', '4321 bye'],
      ['1000', '1000 '],
      ['1001', '1001 going away'],
      ['1011', '1011 oops'],
      ['3000-utf8', '3000 \u20acuro \ud83d\ude00'],
      ['4999-123B', '4999 ' + repeat('z', 123)]
    ];
    var c = {}, steps = [];
    t.partial = c;
    for (var i = 0; i < K.length; i++) {
      (function (label, cmd) {
        steps.push(function (next) {
          var ws = t.make(t.url('/closer')), log = [];
          ws.onopen = function () {
            ws.send('first');
            ws.send('second');
            ws.send('close ' + cmd);
          };
          ws.onmessage = function (e) {
            log.push('message:' + e.data);
          };
          ws.onerror = function () {
            log.push('error');
          };
          ws.onclose = function (e) {
            log.push('close:' + closeInfo(e) + ':rs' + ws.readyState);
            c[label] = log.join(' ');
            next();
          };
        });
      }(K[i][0], K[i][1]));
    }
    sequence(steps, function () {
      t.done(c);
    });
  };

  CASES['connect-fail'] = function (t) {
    var c = {}, steps = [];
    t.partial = c;
    var K = [['404-path', t.url('/nope')], ['refused-port', 'ws://127.0.0.1:' + t.params.deadPort + '/echo']];
    for (var i = 0; i < K.length; i++) {
      (function (label, url) {
        steps.push(function (next) {
          var ws = t.make(url), log = [];
          ws.onopen = function () {
            log.push('open');
          };
          ws.onerror = function () {
            log.push('error:rs' + ws.readyState);
          };
          ws.onclose = function (e) {
            log.push('close:' + closeInfo(e) + ':rs' + ws.readyState);
            c[label] = log.join(' ');
            next();
          };
        });
      }(K[i][0], K[i][1]));
    }
    sequence(steps, function () {
      t.done(c);
    });
  };

  // buffered-amount: right after send(), in the same task, the native
  // socket reports exactly the bytes queued so far (its decrements are
  // posted as later tasks); Ferry counts unacknowledged bytes, and no ack
  // can arrive within the task either. So the values read synchronously
  // are comparable exactly; later values are not (they depend on network
  // timing), except that both must drain to 0.
  CASES['buffered-amount'] = function (t) {
    open(t, '/echo', function (ws) {
      var c = {}, n = 0;
      t.partial = c;
      function rec(label) {
        c[(n++ < 10 ? '0' : '') + (n - 1) + ' ' + label] = ws.bufferedAmount;
      }
      rec('at open');
      ws.send('hello');
      rec('after "hello"');
      ws.send(new ArrayBuffer(1000));
      rec('after ArrayBuffer(1000)');
      ws.send('\u00e9\u20ac\ud83d\ude00');
      rec('after 9-byte UTF-8');
      ws.send(new Uint8Array(pattern(20, 3).buffer, 5, 7));
      rec('after 7-byte view');
      ws.send(new root.Blob([new Uint8Array(10)]));
      rec('after 10-byte Blob');
      ws.send('');
      rec('after empty');
      ws.send('\ud800');
      rec('after lone surrogate');
      ws.send(pattern(1024 * 1024, 1));
      rec('after 1 MiB');
      collect(ws, 8, function () {
        var waited = 0;
        (function poll() {
          if (ws.bufferedAmount === 0 || waited > 20000) {
            c['drains to 0'] = ws.bufferedAmount === 0;
            ws.close(1000);
            rec('after close()');
            ws.send('abc');
            rec('send "abc" while CLOSING');
            ws.send(new ArrayBuffer(10));
            rec('send 10 bytes while CLOSING');
            ws.onclose = function () {
              rec('in onclose');
              ws.send('xy');
              rec('send "xy" when CLOSED');
              t.done(c, {drainMs: waited});
            };
            return;
          }
          waited += 10;
          setTimeout(poll, 10);
        }());
      });
    });
  };

  // --- cases: echo (not differential) ------------------------------------

  CASES['echo-many'] = function (t) {
    var n = t.params.n || 10000, t0 = Date.now(), tOpen;
    open(t, '/echo', function (ws) {
      tOpen = Date.now();
      var got = 0, bad = -1, first = '';
      ws.onmessage = function (e) {
        if (bad < 0 && e.data !== 'm' + got) {
          bad = got;
          first = String(e.data).slice(0, 40);
        }
        if (++got === n) {
          var ms = Date.now() - tOpen;
          t.done({n: n, inOrder: bad < 0, firstBad: bad < 0 ? '' : bad + ':' + first},
            {ms: ms, openMs: tOpen - t0, transport: ws.transport || 'native'});
        }
      };
      for (var i = 0; i < n; i++) {
        ws.send('m' + i);
      }
    });
  };

  // echo-mixed interleaves text and binary messages of varied sizes
  // (0 to 6 KiB), enough to span several event-stream reconnects and
  // upstream batches, and checks every echo in order.
  CASES['echo-mixed'] = function (t) {
    var n = t.params.n || 1000, t0;
    open(t, '/echo', function (ws) {
      var sent = [], seed = 12345, i, size;
      function rnd() {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed;
      }
      for (i = 0; i < n; i++) {
        size = rnd() % 6144;
        if (i % 10 === 0) {
          size = 0;
        }
        sent.push(i % 2 ? pattern(size, i) : i + ':' + mixedText(size));
      }
      t0 = Date.now();
      for (i = 0; i < n; i++) {
        ws.send(sent[i]);
      }
      var got = 0, bad = -1, bytes = 0, progress = {got: 0};
      t.partial = progress;
      t.probe = function () {
        progress.got = got;
        progress.bad = bad;
        progress.readyState = ws.readyState;
        progress.bufferedAmount = ws.bufferedAmount;
        progress.transport = ws.transport;
      };
      ws.onclose = function (e) {
        t.fail('closed after ' + got + ' echoes: ' + closeInfo(e));
      };
      ws.onmessage = function (e) {
        var want = sent[got], ok;
        if (typeof want === 'string') {
          ok = e.data === usv(want);
          bytes += want.length;
        } else {
          ok = e.data instanceof ArrayBuffer && sameBytes(new Uint8Array(e.data), want);
          bytes += want.length;
        }
        if (!ok && bad < 0) {
          bad = got;
        }
        if (++got === n) {
          t.done({n: n, allEqualInOrder: bad < 0, firstBad: bad}, {ms: Date.now() - t0, units: bytes});
        }
      };
    });
  };

  CASES['bytes-256'] = function (t) {
    open(t, '/echo', function (ws) {
      var all = new Uint8Array(256), i;
      for (i = 0; i < 256; i++) {
        all[i] = i;
      }
      var rev = new Uint8Array(256);
      for (i = 0; i < 256; i++) {
        rev[i] = 255 - i;
      }
      ws.send(all.buffer);
      ws.send(rev);
      for (i = 0; i < 256; i++) {
        ws.send(new Uint8Array([i]));
      }
      collect(ws, 258, function (got, raw) {
        var singles = true;
        for (var j = 0; j < 256; j++) {
          if (!raw[j + 2] || raw[j + 2].length !== 1 || raw[j + 2][0] !== j) {
            singles = false;
          }
        }
        t.done({
          'all 256 in one message': sameBytes(raw[0], all),
          'all 256 reversed, as a view': sameBytes(raw[1], rev),
          '256 one-byte messages': singles
        }, {transport: ws.transport || 'native'});
      });
    });
  };

  // echo-suite is what the legacy pages must pass: text (with every
  // awkward character), binary (every byte value), empty messages, a
  // large one, and a clean close with code and reason. It needs nothing
  // beyond ES5, XHR and typed arrays.
  CASES['echo-suite'] = function (t) {
    open(t, '/echo', function (ws) {
      var texts = ['hello', '', 'h\u00e9llo \u65e5\u672c \ud83d\ude00', 'a\rb\nc\r\n\r\nd', 'data: x\n\nid: 1',
        '\u0000\u2028\u2029\\n', mixedText(100000)];
      var all = new Uint8Array(256), i;
      for (i = 0; i < 256; i++) {
        all[i] = i;
      }
      var bins = [all, new Uint8Array(0), pattern(100000, 5)];
      for (i = 0; i < texts.length; i++) {
        ws.send(texts[i]);
      }
      for (i = 0; i < bins.length; i++) {
        ws.send(bins[i].buffer);
      }
      collect(ws, texts.length + bins.length, function (got, raw) {
        var c = {};
        t.partial = c;
        for (var j = 0; j < texts.length; j++) {
          c['text ' + j] = raw[j] === texts[j];
        }
        for (j = 0; j < bins.length; j++) {
          c['binary ' + j] = raw[texts.length + j] !== null && sameBytes(raw[texts.length + j], bins[j]);
        }
        var tr = ws.transport;
        ws.onclose = function (e) {
          c.close = closeInfo(e);
          t.done(c, {transport: tr});
        };
        ws.close(4000, 'bye \u20ac');
      });
    });
  };

  // echo-one: open, echo one message, close; for the CORS tests, which
  // only care whether a session can be had at all.
  CASES['echo-one'] = function (t) {
    var ws = t.make(t.url('/echo')), log = [];
    ws.onopen = function () {
      log.push('open');
      t.transport = ws.transport || 'native';
      ws.send('hi');
    };
    ws.onmessage = function (e) {
      log.push('message:' + e.data);
      ws.close(1000);
    };
    ws.onerror = function () {
      log.push('error');
    };
    ws.onclose = function (e) {
      log.push('close:' + closeInfo(e));
      t.done({log: log.join(' ')});
    };
  };

  // --- exports -----------------------------------------------------------

  root.E2E = {
    start: start,
    result: result,
    cases: function () {
      return keysOf(CASES);
    },
    configure: function (o) {
      if (o && o.host) {
        conf.host = o.host;
      }
      return conf;
    },
    install: function () {
      root.Ferry.install();
      return typeof root.WebSocket;
    }
  };
}(this));
