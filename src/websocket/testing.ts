/**
 * WebSockets for tests (`vial/testing`): `client.websocket(path)` opens one to the app in-process,
 * through a stream pair into a server the app created but that listens on no port, so the handshake
 * takes the production path (the upgrade event, before hooks, Origin, limits) without a socket;
 * `openWebSocket(url)` does the same against a real server (`app.listen()`).
 *
 * A refused handshake rejects with a WebSocketRefusedError carrying the HTTP status and JSON body.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import { duplexPair } from 'node:stream';
import { WebSocket } from 'ws';
import type { ClientOptions } from 'ws';

export interface TestWebSocketOptions {
  readonly headers?: Record<string, string>;
  /** Subprotocols to offer. */
  readonly protocols?: string | readonly string[];
  /** Answer the server's pings (default true; false plays a dead peer for heartbeat tests). */
  readonly autoPong?: boolean;
}

export class WebSocketRefusedError extends Error {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;

  constructor(status: number, headers: Record<string, string | string[] | undefined>, text: string) {
    super(`The WebSocket handshake was refused with ${status}: ${text}`);
    this.name = 'WebSocketRefusedError';
    this.status = status;
    this.headers = headers;
    this.text = text;
  }

  /** The error body vial sends (`{ error: { status, code, message, requestId } }`). */
  json<T = { error: { status: number; code: string; message: string } }>(): T {
    return JSON.parse(this.text) as T;
  }
}

/** An open socket with what it received: text frames as strings, binary ones as Buffers. */
export class TestWebSocket {
  readonly ws: WebSocket;
  readonly messages: (string | Buffer)[] = [];
  /** Resolves once the socket is closed, with the code and reason the server sent. */
  readonly closed: Promise<{ readonly code: number; readonly reason: string }>;
  #taken = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data, isBinary) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      this.messages.push(isBinary ? bytes : bytes.toString('utf8'));
      for (const wake of this.#waiting.splice(0)) wake();
    });
    this.closed = once(ws, 'close').then(([code, reason]) => {
      for (const wake of this.#waiting.splice(0)) wake();
      return { code: code as number, reason: (reason as Buffer).toString('utf8') };
    });
  }

  send(message: string | Uint8Array): void {
    this.ws.send(message);
  }

  /** The next message not taken yet; rejects when the socket closes first. */
  async next(): Promise<string | Buffer> {
    while (this.messages.length <= this.#taken) {
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`The socket closed before message ${this.#taken + 1} arrived.`);
      await new Promise<void>((wake) => this.#waiting.push(wake));
    }
    return this.messages[this.#taken++] as string | Buffer;
  }

  /** Closes (code 1000 by default) and resolves once closed. */
  async close(code = 1000, reason = ''): Promise<{ readonly code: number; readonly reason: string }> {
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    return this.closed;
  }
}

/** Opens `url` (ws:// or wss://) and resolves once open; rejects with WebSocketRefusedError on an HTTP answer. */
export function openWebSocket(url: string, options: TestWebSocketOptions = {}, extra: ClientOptions = {}): Promise<TestWebSocket> {
  const protocols = options.protocols === undefined ? [] : typeof options.protocols === 'string' ? [options.protocols] : [...options.protocols];
  const ws = new WebSocket(url, protocols, { ...extra, headers: options.headers ?? {}, autoPong: options.autoPong ?? true });
  const socket = new TestWebSocket(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(socket));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => reject(new WebSocketRefusedError(res.statusCode ?? 0, res.headers, text)));
    });
    ws.once('error', reject);
  });
}

/**
 * Opens a socket to `server` (created by the app, not listening) over an in-memory stream pair:
 * the server sees an ordinary connection and its upgrade event, with no port involved.
 */
export function openInProcess(server: Server, host: string, path: string, options: TestWebSocketOptions = {}): Promise<TestWebSocket> {
  return openWebSocket(`ws://${host}${path}`, options, {
    createConnection: () => {
      const [client, served] = duplexPair();
      server.emit('connection', served);
      return client as never;
    },
  });
}
