/*
 * Page of streams_test.go. Streams.start(params) opens a Ferry.WebSocket
 * on sse to params.url with params.eventSource and params.fetchStream,
 * makes params.warmup then params.echoes sequential echoes of a 64-byte
 * text message, timing each, then asks the service for params.n binary
 * messages ("down N", burstService in throughput_test.go) and checks each
 * as it arrives (payload in throughput_test.go). Streams.state() returns
 * a JSON string; times are performance.now() milliseconds.
 */
(function (root) {
  'use strict';

  var st = null;

  function check(i, buf) {
    var u8 = new Uint8Array(buf), n = (i * 7) % 251, k;
    if (u8.length !== 4 + n) {
      return 'length ' + u8.length + ', want ' + (4 + n);
    }
    if (((u8[0] << 24) | (u8[1] << 16) | (u8[2] << 8) | u8[3]) >>> 0 !== i) {
      return 'index ' + (((u8[0] << 24) | (u8[1] << 16) | (u8[2] << 8) | u8[3]) >>> 0);
    }
    for (k = 0; k < n; k++) {
      if (u8[4 + k] !== ((i + k) & 255)) {
        return 'byte ' + k;
      }
    }
    return '';
  }

  function pad(i) {
    var s = 'echo ' + i + ' ';
    while (s.length < 64) {
      s += '.';
    }
    return s;
  }

  function start(p) {
    var now = function () {
      return root.performance.now();
    };
    var ws = new root.Ferry.WebSocket(p.url, [], {
      transports: ['sse'], eventSource: p.eventSource, fetchStream: p.fetchStream, remember: false
    });
    var sent = 0, t0 = 0, want = '';
    st = {opened: false, done: false, error: '', transport: '', echoMS: [], burstMS: 0, received: 0, bad: 0, firstBad: ''};
    ws.binaryType = 'arraybuffer';

    function echo() {
      want = pad(sent++);
      t0 = now();
      ws.send(want);
    }

    ws.onopen = function () {
      st.opened = true;
      st.transport = ws.transport;
      echo();
    };
    ws.onmessage = function (e) {
      var why;
      if (typeof e.data !== 'string') {
        why = check(st.received, e.data);
        if (why && !st.bad++) {
          st.firstBad = 'message ' + st.received + ': ' + why;
        }
        st.received++;
        return;
      }
      if (e.data === 'done ' + p.n) {
        st.burstMS = now() - t0;
        st.done = true;
        ws.close(1000);
        return;
      }
      if (e.data !== want) {
        st.error = 'echo ' + JSON.stringify(e.data) + ', want ' + JSON.stringify(want);
        st.done = true;
        ws.close(1000);
        return;
      }
      if (sent > p.warmup) {
        st.echoMS.push(now() - t0);
      }
      if (sent < p.warmup + p.echoes) {
        echo();
        return;
      }
      t0 = now();
      ws.send('down ' + p.n);
    };
    ws.onerror = function () {
      st.error = st.error || 'error event';
    };
    ws.onclose = function (e) {
      if (!st.done) {
        st.error = st.error || 'closed with ' + e.code + ' before done';
        st.done = true;
      }
    };
  }

  root.Streams = {
    start: start,
    state: function () {
      return JSON.stringify(st);
    }
  };
}(this));
