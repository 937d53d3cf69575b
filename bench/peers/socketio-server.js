'use strict';
// Socket.IO peer for Ferry's benchmarks (bench/run.sh, bench/browser).
//
//   node socketio-server.js [PORT]      (or PORT=... ; 0 picks a free port)
//   PUBLISH_SECRET=s                    (optional bearer token for POST /publish)
//   PING_INTERVAL_MS, PING_TIMEOUT_MS   (Engine.IO heartbeat; defaults 25000, 20000)
//
// Listens on 127.0.0.1 only and prints "listening 127.0.0.1:PORT" once ready.
// Engine.IO at the default path /socket.io/, transports polling and
// websocket, no compression of any kind (Ferry compresses nothing). Any page
// origin is allowed (the browser comparison's page comes from another port).
//
// Namespaces, each using the "message" event (socket.send / "message"):
//
//   /echo       every message back, text as text and binary as binary
//   /bench      Ferry's bench service (server.Bench): "down COUNT SIZE"
//               streams COUNT binary messages of SIZE bytes, then the text
//               "done"; "up [COUNT]" counts the following messages until
//               COUNT or the text "end", then answers "got N"; "close"
//               disconnects the socket (for the Go driver's tests); anything
//               else is echoed
//   /broadcast  every socket gets every message POSTed to /publish or
//               /publish/<anything>: text when the Content-Type is text/*,
//               binary otherwise (as Ferry's broadcast service does)
//   /healthz    "ok"

const http = require('http');
const { Server } = require('socket.io');

const port = Number(process.argv[2] || process.env.PORT || 0);
const secret = process.env.PUBLISH_SECRET || '';

let io;

function publish(req, res) {
  if (secret && req.headers.authorization !== 'Bearer ' + secret) {
    res.writeHead(401, { 'WWW-Authenticate': 'Bearer' });
    res.end('unauthorized\n');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const text = (req.headers['content-type'] || '').toLowerCase().startsWith('text/');
    const nsp = io.of('/broadcast');
    nsp.emit('message', text ? body.toString('utf8') : body);
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.end(nsp.sockets.size + '\n');
  });
}

const server = http.createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (req.method === 'POST' && (path === '/publish' || path.startsWith('/publish/'))) {
    publish(req, res);
  } else if (path === '/healthz') {
    res.end('ok\n');
  } else if (!path.startsWith('/socket.io/')) {
    res.writeHead(404);
    res.end('not found\n');
  }
});

io = new Server(server, {
  transports: ['polling', 'websocket'],
  perMessageDeflate: false,
  httpCompression: false,
  serveClient: false,
  maxHttpBufferSize: 16 << 20,
  pingInterval: Number(process.env.PING_INTERVAL_MS || 25000),
  pingTimeout: Number(process.env.PING_TIMEOUT_MS || 20000),
  cors: { origin: true, credentials: true },
});

io.of('/echo').on('connection', (socket) => {
  socket.on('message', (m) => socket.send(m));
});

io.of('/bench').on('connection', (socket) => {
  let up = null; // while counting: {want, got}
  socket.on('message', (m) => {
    if (up) {
      if (m === 'end' || ++up.got === up.want) {
        socket.send('got ' + up.got);
        up = null;
      }
      return;
    }
    const u = typeof m === 'string' && /^up(?: (\d+))?$/.exec(m);
    if (u) {
      up = { want: Number(u[1] || 0), got: 0 };
      return;
    }
    if (m === 'close') {
      socket.disconnect(true);
      return;
    }
    const down = typeof m === 'string' && /^down (\d+) (\d+)$/.exec(m);
    if (!down) {
      socket.send(m);
      return;
    }
    const payload = Buffer.alloc(Number(down[2]), 'x');
    for (let i = Number(down[1]); i > 0; i--) {
      socket.send(payload);
    }
    socket.send('done');
  });
});

io.of('/broadcast').on('connection', () => {});

// No idle timeout on kept-alive connections, as Go's http.Server (Ferry):
// Node's default 5 s closes a publisher's idle connection just as it is
// reused, and that POST fails.
server.keepAliveTimeout = 0;

server.listen(port, '127.0.0.1', () => {
  const a = server.address();
  console.log('listening ' + a.address + ':' + a.port + ' (socket.io ' + require('socket.io/package.json').version + ')');
});
