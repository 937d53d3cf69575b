// Ferry's browser comparison: for each library and transport, in this one
// page, N sequential echoes of a SIZE-byte text message (fewer if they take
// longer than echoMaxMs) and a burst of
// BURST messages of SIZE bytes sent by the server ("down BURST SIZE" to each
// server's bench endpoint, which ends it with the text "done").
// window.BENCH (config.js) holds the server URLs and the counts; progress
// and results go to window.__bench, which the Go program polls.
(function () {
  'use strict';
  var B = window.BENCH;
  var state = (window.__bench = { done: false, current: '', results: [], error: '' });
  var logEl = document.getElementById('log');

  function log(s) {
    if (logEl) {
      logEl.textContent += s + '\n';
    }
  }

  function wsURL(u) {
    return u.replace(/^http/, 'ws');
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement('script');
      s.src = src;
      s.onload = resolve;
      s.onerror = function () {
        reject(new Error('cannot load ' + src));
      };
      document.head.appendChild(s);
    });
  }

  // A channel is what every case sees of a socket: send(string), close(),
  // onmessage(data) set by the measurement, and transport (the library's
  // own report of the carrier in use).

  // fromWebSocket wraps anything with the WebSocket API (native or Ferry's).
  function fromWebSocket(ws, transportOf) {
    return new Promise(function (resolve, reject) {
      var ch = {
        onmessage: null,
        send: function (s) {
          ws.send(s);
        },
        close: function () {
          ws.close();
        }
      };
      ws.binaryType = 'arraybuffer';
      ws.onopen = function () {
        ch.transport = transportOf();
        resolve(ch);
      };
      ws.onerror = function () {
        reject(new Error('error event'));
      };
      ws.onclose = function (e) {
        reject(new Error('closed with ' + e.code));
        if (ch.onfail) {
          ch.onfail(new Error('closed with ' + e.code));
        }
      };
      ws.onmessage = function (e) {
        ch.onmessage(e.data);
      };
    });
  }

  var openers = {
    native: function () {
      var ws = new WebSocket(wsURL(B.ferry) + '/bench');
      return fromWebSocket(ws, function () {
        return 'websocket';
      });
    },
    ferry: function (t) {
      var o = { transports: [t], remember: false };
      for (var k in B.ferryOptions || {}) {
        o[k] = B.ferryOptions[k];
      }
      var ws = new window.Ferry.WebSocket(wsURL(B.ferry) + '/bench', [], o);
      return fromWebSocket(ws, function () {
        return ws.transport;
      });
    },
    sockjs: function (t) {
      return new Promise(function (resolve, reject) {
        var s = new window.SockJS(B.sockjs + '/bench', null, { transports: [t] });
        var ch = {
          onmessage: null,
          send: function (m) {
            s.send(m);
          },
          close: function () {
            s.close();
          }
        };
        s.onopen = function () {
          ch.transport = s.transport;
          resolve(ch);
        };
        s.onclose = function (e) {
          reject(new Error('closed with ' + e.code + ' ' + e.reason));
          if (ch.onfail) {
            ch.onfail(new Error('closed with ' + e.code));
          }
        };
        s.onmessage = function (e) {
          ch.onmessage(e.data);
        };
      });
    },
    socketio: function (t) {
      return new Promise(function (resolve, reject) {
        var s = window.io(B.socketio + '/bench', {
          transports: [t],
          upgrade: false,
          forceNew: true,
          reconnection: false
        });
        var ch = {
          onmessage: null,
          send: function (m) {
            s.send(m);
          },
          close: function () {
            s.disconnect();
          }
        };
        s.on('connect', function () {
          ch.transport = s.io.engine.transport.name;
          resolve(ch);
        });
        s.on('connect_error', function (e) {
          reject(e);
        });
        s.on('disconnect', function (reason) {
          if (ch.onfail) {
            ch.onfail(new Error('disconnected: ' + reason));
          }
        });
        s.on('message', function (d) {
          ch.onmessage(d);
        });
      });
    }
  };

  function sizeOf(d) {
    return typeof d === 'string' ? d.length : d.byteLength;
  }

  // echo makes n round trips one after another, or as many as fit in
  // maxMs, and returns their times.
  function echo(ch, n, msg, maxMs) {
    return new Promise(function (resolve, reject) {
      var times = new Float64Array(n);
      var i = 0;
      var t0 = performance.now();
      var start = t0;
      ch.onfail = reject;
      ch.onmessage = function (d) {
        var now = performance.now();
        if (d !== msg) {
          reject(new Error('echo ' + i + ': got ' + sizeOf(d) + ' bytes back, want the ' + msg.length + ' sent'));
          return;
        }
        times[i++] = now - t0;
        if (i === n || now - start > maxMs) {
          resolve({ times: times.subarray(0, i), ms: now - start });
          return;
        }
        t0 = performance.now();
        ch.send(msg);
      };
      ch.send(msg);
    });
  }

  // burst asks for n messages of size bytes and times them until "done".
  function burst(ch, n, size) {
    return new Promise(function (resolve, reject) {
      var count = 0;
      var bytes = 0;
      var first = 0;
      var t0 = performance.now();
      ch.onfail = reject;
      ch.onmessage = function (d) {
        if (d === 'done') {
          var ms = performance.now() - t0;
          if (count !== n) {
            reject(new Error('burst: ' + count + ' messages before done, want ' + n));
            return;
          }
          resolve({ n: n, ms: ms, first_ms: first, bytes: bytes, type: typeof d });
          return;
        }
        if (count === 0) {
          first = performance.now() - t0;
        }
        count++;
        bytes += sizeOf(d);
      };
      ch.send('down ' + n + ' ' + size);
    });
  }

  function percentile(sorted, p) {
    return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
  }

  function round(x) {
    return Math.round(x * 1000) / 1000;
  }

  function withTimeout(p, ms, what) {
    return new Promise(function (resolve, reject) {
      var t = setTimeout(function () {
        reject(new Error(what + ': no result after ' + ms / 1000 + ' s'));
      }, ms);
      p.then(
        function (v) {
          clearTimeout(t);
          resolve(v);
        },
        function (e) {
          clearTimeout(t);
          reject(e);
        }
      );
    });
  }

  async function runCase(c) {
    var r = { name: c.name, lib: c.lib, transport: c.transport };
    var msg = 'x'.repeat(B.size);
    var ch = await withTimeout(openers[c.lib](c.transport), 15000, 'open');
    r.actual_transport = ch.transport;
    try {
      // Warm up (JIT, connections) before measuring.
      await withTimeout(echo(ch, B.warmup, msg, B.caseTimeoutMs), B.caseTimeoutMs, 'warm-up');
      var e = await withTimeout(echo(ch, B.echoes, msg, B.echoMaxMs), B.caseTimeoutMs, 'echo');
      var n = e.times.length;
      var sorted = Array.prototype.slice.call(e.times).sort(function (a, b) {
        return a - b;
      });
      r.echo = {
        n: n,
        capped: n < B.echoes,
        ms: round(e.ms),
        per_s: round((n * 1000) / e.ms),
        mean_ms: round(e.ms / n),
        p50_ms: round(percentile(sorted, 0.5)),
        p90_ms: round(percentile(sorted, 0.9)),
        p99_ms: round(percentile(sorted, 0.99)),
        max_ms: round(sorted[sorted.length - 1])
      };
      var b = await withTimeout(burst(ch, B.burst, B.size), B.caseTimeoutMs, 'burst');
      r.burst = {
        n: b.n,
        ms: round(b.ms),
        first_ms: round(b.first_ms),
        msgs_per_s: round((b.n * 1000) / b.ms),
        mb_per_s: round(b.bytes / 1e6 / (b.ms / 1000))
      };
    } finally {
      ch.onfail = null;
      ch.close();
    }
    return r;
  }

  async function main() {
    // With -cpuprofile the program starts the profiler, then sets __go.
    while (B.hold && !window.__go) {
      await new Promise(function (resolve) {
        setTimeout(resolve, 20);
      });
    }
    // -clientjs: the page's own server has the client.js under test.
    await loadScript(B.clientjs ? '/client.js' : B.ferry + '/client.js');
    for (var i = 0; i < B.cases.length; i++) {
      var c = B.cases[i];
      state.current = c.name;
      log('running ' + c.name);
      var r;
      try {
        r = await runCase(c);
      } catch (e) {
        r = { name: c.name, lib: c.lib, transport: c.transport, error: String((e && e.message) || e) };
      }
      state.results.push(r);
      log(JSON.stringify(r));
      // Let the previous session's requests end before the next case.
      await new Promise(function (resolve) {
        setTimeout(resolve, 300);
      });
    }
  }

  main().then(
    function () {
      state.done = true;
    },
    function (e) {
      state.error = String((e && e.message) || e);
      state.done = true;
    }
  );
})();
