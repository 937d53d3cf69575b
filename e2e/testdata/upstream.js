/*
 * Page of the upstream batching test (upstream_test.go). Go calls
 * Upstream.start(o) and polls Upstream.state(), which returns a JSON
 * string.
 *
 * One Ferry.WebSocket, forced onto o.transport, sends o.n 64-byte text
 * messages (payload(i), byte for byte upPayload in upstream_test.go) as
 * fast as the page can: in one tight loop (o.mode "loop"), or o.burst at a
 * time from a chain of setTimeout(0) callbacks (o.mode "bursts"). The
 * service answers "got N" once it has counted every message; the page
 * then closes with 1000.
 */
(function (root) {
  'use strict';

  // FILL pads "%08d:" to 64 bytes; upFill in upstream_test.go.
  var FILL = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ012';

  function payload(i) {
    return ('0000000' + i).slice(-8) + ':' + FILL;
  }

  var st = {
    opened: false, transport: '', sent: 0, sendMs: 0, bursts: 0, busyBursts: 0,
    maxBuffered: 0, got: '', gotMs: 0, errors: 0, closed: null, error: ''
  };

  var Upstream = {
    start: function (o) {
      var msgs = [], i, ws, t0;
      for (i = 0; i < o.n; i++) {
        msgs.push(payload(i));
      }
      if (msgs[0].length !== 64) {
        st.error = 'payload is ' + msgs[0].length + ' bytes';
        return;
      }
      ws = new root.Ferry.WebSocket(o.url, [], {transports: [o.transport]});
      ws.onopen = function () {
        var k = 0;
        st.opened = true;
        st.transport = ws.transport;
        t0 = Date.now();
        if (o.mode === 'loop') {
          for (k = 0; k < o.n; k++) {
            ws.send(msgs[k]);
          }
          st.sent = k;
          st.bursts = 1;
          st.maxBuffered = ws.bufferedAmount;
          st.sendMs = Date.now() - t0;
          return;
        }
        (function burst() {
          var end = Math.min(k + o.burst, o.n);
          // bufferedAmount > 0: a POST is still in flight as this
          // burst starts, so the page sends faster than POSTs complete.
          if (ws.bufferedAmount > 0) {
            st.busyBursts++;
          }
          for (; k < end; k++) {
            ws.send(msgs[k]);
          }
          st.bursts++;
          st.sent = k;
          st.maxBuffered = Math.max(st.maxBuffered, ws.bufferedAmount);
          if (k < o.n) {
            setTimeout(burst, 0);
          } else {
            st.sendMs = Date.now() - t0;
          }
        }());
      };
      ws.onmessage = function (e) {
        st.got = String(e.data);
        st.gotMs = Date.now() - t0;
        ws.close(1000, 'done');
      };
      ws.onerror = function () {
        st.errors++;
      };
      ws.onclose = function (e) {
        st.closed = {code: e.code, reason: e.reason, wasClean: e.wasClean};
      };
    },

    state: function () {
      return JSON.stringify(st);
    }
  };

  root.Upstream = Upstream;
}(this));
