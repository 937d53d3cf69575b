// The same declarations used as a browser global (a <script> tag).
/// <reference path="../client.d.ts" />
const g: typeof WebSocket = Ferry.WebSocket;
const s = new Ferry.WebSocket('ws://example.com/echo');
const tr: string = s.transport;
Ferry.configure({ firstEventTimeout: 1000 });
void g;
void tr;
