'use strict';
// SockJS peer for Ferry's benchmarks (bench/run.sh, bench/browser).
//
//   node sockjs-server.js [PORT]        (or PORT=... ; 0 picks a free port)
//   PUBLISH_SECRET=s                    (optional bearer token for POST /publish)
//   HEARTBEAT_MS                        (heartbeat interval; default 25000)
//
// Listens on 127.0.0.1 only and prints "listening 127.0.0.1:PORT" once ready.
// Every SockJS transport the library has is served (websocket, eventsource,
// xhr-polling, xhr-streaming, ...); the benchmarks use websocket,
// eventsource and xhr-polling ("xhr").
//
//   /echo       every message back
//   /bench      Ferry's bench service (server.Bench): "down COUNT SIZE"
//               streams COUNT messages of SIZE bytes, then "done"; "up [COUNT]"
//               counts the following messages until COUNT or "end", then
//               answers "got N"; "close CODE REASON" closes the session
//               (for the Go driver's tests); anything else is echoed. SockJS carries
//               strings only, so the COUNT messages are text ("x" repeated).
//   /broadcast  every connection gets every message POSTed to /publish or
//               /publish/<anything> (the request body, as text)
//   /healthz    "ok"

const http = require('http');
const sockjs = require('sockjs');

const port = Number(process.argv[2] || process.env.PORT || 0);
const secret = process.env.PUBLISH_SECRET || '';

const options = {
  log: () => {},
  // Library defaults, written out: a streaming response is ended after
  // 128 KiB and the client opens the next one; heartbeats every 25 s.
  response_limit: 128 * 1024,
  heartbeat_delay: Number(process.env.HEARTBEAT_MS || 25000),
  disconnect_delay: 5000,
  websocket: true,
};

function echo(conn) {
  conn.on('data', (m) => conn.write(m));
}

function bench(conn) {
  let up = null; // while counting: {want, got}
  conn.on('data', (m) => {
    if (up) {
      if (m === 'end' || ++up.got === up.want) {
        conn.write('got ' + up.got);
        up = null;
      }
      return;
    }
    const u = /^up(?: (\d+))?$/.exec(m);
    if (u) {
      up = { want: Number(u[1] || 0), got: 0 };
      return;
    }
    const close = /^close (\d+) (.*)$/.exec(m);
    if (close) {
      conn.close(Number(close[1]), close[2]);
      return;
    }
    const down = /^down (\d+) (\d+)$/.exec(m);
    if (!down) {
      conn.write(m);
      return;
    }
    const payload = 'x'.repeat(Number(down[2]));
    for (let i = Number(down[1]); i > 0; i--) {
      conn.write(payload);
    }
    conn.write('done');
  });
}

const subscribers = new Set();

function subscribe(conn) {
  subscribers.add(conn);
  conn.on('close', () => subscribers.delete(conn));
}

function publish(req, res) {
  if (secret && req.headers.authorization !== 'Bearer ' + secret) {
    res.writeHead(401, { 'WWW-Authenticate': 'Bearer' });
    res.end('unauthorized\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const msg = Buffer.concat(chunks).toString('utf8');
    for (const conn of subscribers) {
      conn.write(msg);
    }
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(subscribers.size + '\n');
  });
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'POST' && (path === '/publish' || path.startsWith('/publish/'))) {
    publish(req, res);
  } else if (path === '/healthz') {
    res.end('ok\n');
  } else {
    res.writeHead(404);
    res.end('not found\n');
  }
});

for (const [prefix, onConnection] of [['/echo', echo], ['/bench', bench], ['/broadcast', subscribe]]) {
  const s = sockjs.createServer(options);
  s.on('connection', onConnection);
  s.installHandlers(server, { prefix });
}

// No idle timeout on kept-alive connections, as Go's http.Server (Ferry):
// Node's default 5 s closes a publisher's idle connection just as it is
// reused, and that POST fails.
server.keepAliveTimeout = 0;

server.listen(port, '127.0.0.1', () => {
  const a = server.address();
  console.log('listening ' + a.address + ':' + a.port + ' (sockjs ' + require('sockjs/package.json').version + ')');
});
