// Type checks for client.d.ts, run by `npm test` through tsc --noEmit.
import Ferry = require('../client');

// Ferry.WebSocket is a drop-in for the DOM WebSocket constructor.
const Ctor: typeof WebSocket = Ferry.WebSocket;
const native: WebSocket = new Ctor('wss://example.com/echo', ['mqtt']);
native.close(1000);

const ws = new Ferry.WebSocket('ws://example.com/echo', 'chat', {
  transports: ['sse', 'longpoll'],
  connectTimeout: 2000,
  env: { WebSocket: null, EventSource: null, setTimeout: (fn, ms) => setTimeout(fn, ms) },
});
const asDom: WebSocket = ws;
const t: '' | 'websocket' | 'sse' | 'longpoll' = ws.transport;
const state: 0 | 1 | 2 | 3 = Ferry.WebSocket.OPEN;
ws.binaryType = 'arraybuffer';
ws.onmessage = (e: MessageEvent) => e.data;
ws.addEventListener('close', (e: CloseEvent) => e.wasClean);
ws.send(new Uint8Array(2));

Ferry.install();
Ferry.install(window);
Ferry.uninstall();
const defaults: Ferry.Options = Ferry.configure({ transports: 'websocket', remember: false });
const names: string[] = Ferry.transports.map((x) => x.name);

// @ts-expect-error: unknown transport names are rejected.
Ferry.configure({ transports: ['carrier-pigeon'] });
// @ts-expect-error: transport is read-only.
ws.transport = 'sse';

export { asDom, t, state, defaults, names };
