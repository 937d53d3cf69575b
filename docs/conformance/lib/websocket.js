'use strict';

// The client side of RFC 6455 that the conformance runner needs, on
// node:http and node:crypto: the opening handshake, masked frames out
// (any opcode and payload, valid or not: vectors send broken frames on
// purpose), unmasked frames in with continuations reassembled, and the
// closing handshake. Node 20 has no WebSocket client of its own.

const http = require('node:http');
const https = require('node:https');
const crypto = require('node:crypto');
const {Queue} = require('./queue');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = {continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10};

// connect performs the opening handshake. It resolves with {ws, status,
// headers} on 101, or {status, headers, body} when the server refuses.
function connect(url, headers, timeoutMs, opts) {
  const key = crypto.randomBytes(16).toString('base64');
  const mod = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, {
      method: 'GET',
      agent: false,
      headers: {
        Connection: 'Upgrade', Upgrade: 'websocket',
        'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13', ...headers
      }
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no handshake answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('upgrade', (res, socket, head) => {
      clearTimeout(timer);
      const want = crypto.createHash('sha1').update(key + GUID).digest('base64');
      if (res.headers['sec-websocket-accept'] !== want) {
        socket.destroy();
        reject(new Error('bad Sec-WebSocket-Accept'));
        return;
      }
      resolve({status: res.statusCode, headers: res.headers, ws: new WebSocket(socket, head, opts)});
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks)});
      });
    });
    req.end();
  });
}

// WebSocket is one open connection. Received items go to items, a Queue of
// {type: 'text'|'binary', data}, {type: 'close', code, reason, payload},
// {type: 'ping', data} and, last, {type: 'end'}. Pings are answered unless
// opts.autoPong is false; a close is answered with the same code.
class WebSocket {
  constructor(socket, head, opts = {}) {
    this.socket = socket;
    this.autoPong = opts.autoPong !== false;
    this.items = new Queue();
    this.chunks = [];
    this.buffered = 0;
    this.fragments = null; // {type, parts} of a fragmented message
    this.closeSent = false;
    socket.setNoDelay(true);
    socket.on('data', (c) => this.onData(c));
    socket.on('close', () => this.items.end({type: 'end'}));
    socket.on('error', () => {});
    if (head && head.length > 0) {
      this.onData(head);
    }
  }

  // send writes one masked frame.
  send(opcode, payload = Buffer.alloc(0)) {
    if (opcode === OP.close) {
      this.closeSent = true;
    }
    const n = payload.length;
    const len = n < 126 ? 1 : n < 65536 ? 3 : 9;
    const frame = Buffer.alloc(1 + len + 4 + n);
    frame[0] = 0x80 | opcode;
    if (n < 126) {
      frame[1] = 0x80 | n;
    } else if (n < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(n, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(n), 2);
    }
    const mask = crypto.randomBytes(4);
    mask.copy(frame, 1 + len);
    const off = 1 + len + 4;
    for (let i = 0; i < n; i++) {
      frame[off + i] = payload[i] ^ mask[i & 3];
    }
    this.socket.write(frame);
  }

  // destroy drops the TCP connection without a close frame.
  destroy() {
    this.socket.destroy();
  }

  onData(chunk) {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      const f = this.nextFrame();
      if (!f) {
        return;
      }
      this.onFrame(f);
    }
  }

  // nextFrame takes one whole frame off the buffer, or returns null.
  nextFrame() {
    if (this.buffered < 2) {
      return null;
    }
    const h = this.peek(Math.min(this.buffered, 14));
    let n = h[1] & 0x7f;
    let off = 2;
    if (n === 126) {
      if (h.length < 4) {
        return null;
      }
      n = h.readUInt16BE(2);
      off = 4;
    } else if (n === 127) {
      if (h.length < 10) {
        return null;
      }
      n = Number(h.readBigUInt64BE(2));
      off = 10;
    }
    const masked = (h[1] & 0x80) !== 0;
    if (masked) {
      off += 4;
    }
    if (this.buffered < off + n) {
      return null;
    }
    const frame = this.take(off + n);
    const payload = frame.subarray(off);
    if (masked) {
      const mask = frame.subarray(off - 4, off);
      for (let i = 0; i < payload.length; i++) {
        payload[i] ^= mask[i & 3];
      }
    }
    return {fin: (h[0] & 0x80) !== 0, opcode: h[0] & 0x0f, payload};
  }

  peek(n) {
    return this.chunks[0].length >= n ? this.chunks[0].subarray(0, n) : Buffer.concat(this.chunks).subarray(0, n);
  }

  take(n) {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return Buffer.from(all.subarray(0, n));
  }

  onFrame({fin, opcode, payload}) {
    switch (opcode) {
      case OP.ping:
        if (this.autoPong) {
          this.send(OP.pong, payload);
        }
        this.items.push({type: 'ping', data: payload});
        return;
      case OP.pong:
        return;
      case OP.close:
        this.onClose(payload);
        return;
      case OP.continuation:
        if (!this.fragments) {
          this.items.push({type: 'error', message: 'continuation frame without a message'});
          return;
        }
        this.fragments.parts.push(payload);
        break;
      case OP.text:
      case OP.binary:
        this.fragments = {type: opcode === OP.text ? 'text' : 'binary', parts: [payload]};
        break;
      default:
        this.items.push({type: 'error', message: `frame with opcode ${opcode}`});
        return;
    }
    if (fin) {
      const {type, parts} = this.fragments;
      this.fragments = null;
      this.items.push({type, data: Buffer.concat(parts)});
    }
  }

  onClose(payload) {
    const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    const reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
    this.items.push({type: 'close', code, reason, payload});
    if (!this.closeSent) {
      this.send(OP.close, payload.subarray(0, Math.min(payload.length, 2)));
    }
    this.socket.end();
  }
}

module.exports = {connect, OP};
