/*
 * Page of throughput_test.go. Burst.start(params) opens a Ferry.WebSocket
 * forced onto one transport (params.transports, params.eventSource,
 * params.fetchStream) to params.url, asks the service for params.n binary
 * messages ("down N"), and checks each as it arrives: message i is i as 4
 * bytes big-endian, then (i * 7) % 251 bytes of which byte k is (i + k) &
 * 255 (payload in throughput_test.go). Burst.state() returns a JSON
 * string.
 */
(function (root) {
  'use strict';

  var st = {opened: false, done: false, received: 0, bad: 0, firstBad: '', error: '', transport: '', ms: 0, closes: 0};

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

  function start(p) {
    var ws = new root.Ferry.WebSocket(p.url, [], {
      transports: p.transports, eventSource: p.eventSource, fetchStream: p.fetchStream, remember: false
    });
    var t0 = 0;
    ws.binaryType = 'arraybuffer';
    ws.onopen = function () {
      st.opened = true;
      st.transport = ws.transport;
      t0 = Date.now();
      ws.send('down ' + p.n);
    };
    ws.onmessage = function (e) {
      var why;
      if (typeof e.data === 'string') {
        st.ms = Date.now() - t0;
        if (e.data !== 'done ' + p.n) {
          st.error = 'unexpected text ' + e.data;
        }
        st.done = true;
        ws.close(1000);
        return;
      }
      why = check(st.received, e.data);
      if (why && !st.bad++) {
        st.firstBad = 'message ' + st.received + ': ' + why;
      }
      st.received++;
    };
    ws.onerror = function () {
      st.error = st.error || 'error event';
    };
    ws.onclose = function (e) {
      st.closes++;
      if (!st.done) {
        st.error = st.error || 'closed with ' + e.code + ' before done';
        st.done = true;
      }
    };
  }

  root.Burst = {
    start: start,
    state: function () {
      return JSON.stringify(st);
    }
  };
}(this));
