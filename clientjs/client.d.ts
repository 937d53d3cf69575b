// Type declarations for client.js, Ferry's browser client (package
// ferry-websocket). Loaded by a <script> tag it defines the global Ferry;
// under CommonJS it is the module's export.

declare namespace Ferry {
  /** The carriers a session can use, in the default fallback order. */
  type TransportName = 'websocket' | 'sse' | 'longpoll';

  /**
   * Browser globals the client uses, for injection in tests. A key that is
   * absent means the real global; a key set to null means "not available".
   */
  interface Env {
    WebSocket?: { new (url: string, protocols?: string | string[]): WebSocket } | null;
    EventSource?: { new (url: string, init?: { withCredentials?: boolean }): EventSource } | null;
    XMLHttpRequest?: { new (): XMLHttpRequest } | null;
    setTimeout?: ((fn: () => void, ms?: number) => unknown) | null;
    clearTimeout?: ((id: any) => void) | null;
    sessionStorage?: Pick<Storage, 'getItem' | 'setItem'> | null;
    location?: { href: string } | null;
    Blob?: typeof Blob | null;
    FileReader?: typeof FileReader | null;
    TextEncoder?: typeof TextEncoder | null;
    TextDecoder?: typeof TextDecoder | null;
    /** Reads event streams when fetchStream allows it (with AbortController and TextDecoder). */
    fetch?: ((input: string, init?: RequestInit) => Promise<Response>) | null;
    AbortController?: typeof AbortController | null;
    URL?: typeof URL | null;
    EventTarget?: typeof EventTarget | null;
    Event?: typeof Event | null;
    MessageEvent?: typeof MessageEvent | null;
    CloseEvent?: typeof CloseEvent | null;
    DOMException?: typeof DOMException | null;
    /** Source of jitter for backoff; default Math.random. */
    random?: (() => number) | null;
  }

  /** Options for one socket (third constructor argument) or for all (configure). */
  interface Options {
    /** Transports to try, in order; one name or a one-element list forces it. Default all three. */
    transports?: TransportName | TransportName[];
    /** Milliseconds a Ferry WebSocket has to deliver its open frame. Default 4000. */
    connectTimeout?: number;
    /** Milliseconds an event stream has to deliver its first event before the session moves to long-polling. Default 3000. */
    firstEventTimeout?: number;
    /** Milliseconds before POST open or send is abandoned (and send retried). Default 30000. */
    requestTimeout?: number;
    /** First retry delay in milliseconds, doubled per retry up to maxBackoff, with jitter. Default 250. */
    backoff?: number;
    /** Cap on the retry delay in milliseconds. Default 5000. */
    maxBackoff?: number;
    /** Milliseconds a carrier must stay up before the backoff resets. Default 5000. */
    stableAfter?: number;
    /** Cap on the bytes of one upstream POST; 0 means the server's maxBodyBytes. Default 0. */
    maxBatchBytes?: number;
    /** Remember the transport that worked in sessionStorage and try it first next time. Default true. */
    remember?: boolean;
    /** Send cookies on cross-origin HTTP requests. Default false. */
    withCredentials?: boolean;
    /** Read event streams with EventSource when present (else fetch or XHR streaming). Default true. */
    eventSource?: boolean;
    /**
     * Read event streams with fetch and a streamed body: true prefers it to EventSource, false never
     * uses it; "auto" uses it where EventSource is absent or turned off, in place of XHR streaming.
     * It needs fetch, AbortController and TextDecoder; a response without a readable body falls
     * back to XHR streaming. Default "auto".
     */
    fetchStream?: boolean | 'auto';
    /** Browser globals to use instead of the real ones. */
    env?: Env;
  }

  /** A Ferry socket: a WebSocket plus the carrier in use. */
  interface Socket extends WebSocket {
    /** The carrier in use: "websocket", "sse" or "longpoll"; "" before the socket opens. */
    readonly transport: '' | TransportName;
  }

  /** The Ferry.WebSocket constructor, assignable to the DOM's typeof WebSocket. */
  interface SocketConstructor {
    new (url: string | URL, protocols?: string | string[], options?: Options): Socket;
    readonly prototype: Socket;
    readonly CONNECTING: 0;
    readonly OPEN: 1;
    readonly CLOSING: 2;
    readonly CLOSED: 3;
  }

  /** A transport unit: the fallback order is a list of these. */
  interface Transport {
    readonly name: TransportName;
    enabled(env: Env): boolean;
    open(session: unknown, attempt: number): unknown;
  }

  interface Static {
    readonly version: string;
    readonly WebSocket: SocketConstructor;
    /** Changes the defaults for sockets created afterwards; returns the defaults in force. */
    configure(options?: Options): Options;
    /** Makes Ferry.WebSocket the global WebSocket; the native one stays in use underneath. */
    install(target?: { WebSocket?: unknown }): void;
    /** Puts the native WebSocket back. */
    uninstall(target?: { WebSocket?: unknown }): void;
    readonly transports: ReadonlyArray<Transport>;
  }
}

declare const Ferry: Ferry.Static;

export = Ferry;
export as namespace Ferry;
