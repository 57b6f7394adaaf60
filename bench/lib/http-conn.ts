/**
 * A minimal HTTP/1.1 client connection for the traffic generator: one request at a time on a
 * keep-alive socket, responses framed by Content-Length or chunked encoding, nothing else. Node's
 * own `http` client costs several times more CPU per request, and the generator has to offer several
 * times a server's peak rate from one core. Bench-only: GET without a body, no redirects, no TLS.
 */
import { connect } from 'node:net';
import type { Socket } from 'node:net';

export interface HttpReply {
  /** 0 when the connection failed or closed before a whole response arrived. */
  readonly status: number;
  readonly body: string;
  /** Set when `status` is 0: what went wrong (`connect`, `read`, `timeout`). */
  readonly error?: 'connect' | 'read' | 'timeout';
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CHUNK_END = Buffer.from('0\r\n\r\n');

export class HttpConn {
  readonly #host: string;
  readonly #port: number;
  readonly #timeoutMs: number;
  #socket: Socket | undefined;
  #connected = false;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: ((reply: HttpReply) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** True while a request is outstanding: the pool hands out idle connections only. */
  busy = false;

  constructor(host: string, port: number, timeoutMs: number) {
    this.#host = host;
    this.#port = port;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends `GET path` and resolves with the response (never rejects: failures are a status 0 reply). */
  get(path: string): Promise<HttpReply> {
    this.busy = true;
    return new Promise((resolve) => {
      this.#pending = resolve;
      this.#timer = setTimeout(() => this.#fail('timeout'), this.#timeoutMs);
      const socket = this.#socket ?? this.#open();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${this.#host}:${this.#port}\r\n\r\n`);
    });
  }

  close(): void {
    this.#socket?.destroy();
    this.#socket = undefined;
  }

  #open(): Socket {
    this.#connected = false;
    this.#buffer = Buffer.alloc(0);
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    socket.on('connect', () => (this.#connected = true));
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    // 'close' also follows 'error'; a server closing an idle keep-alive socket lands here with nothing pending.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      // A socket this connection already let go of (after `Connection: close` or a timeout) must not
      // fail the request that a fresh socket is now carrying.
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#fail(this.#connected ? 'read' : 'connect');
    });
    this.#socket = socket;
    return socket;
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const headEnd = this.#buffer.indexOf(HEADER_END);
    if (headEnd === -1) return;
    const head = this.#buffer.subarray(0, headEnd).toString('latin1');
    const status = Number(head.slice(9, 12));
    const lower = head.toLowerCase();
    const bodyStart = headEnd + 4;
    let end: number;
    let body: string;
    const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
    if (length !== null) {
      end = bodyStart + Number(length[1]);
      if (this.#buffer.length < end) return;
      body = this.#buffer.subarray(bodyStart, end).toString('utf8');
    } else if (lower.includes('\r\ntransfer-encoding: chunked')) {
      const last = this.#buffer.indexOf(CHUNK_END, bodyStart);
      if (last === -1) return;
      end = last + CHUNK_END.length;
      body = dechunk(this.#buffer.subarray(bodyStart, end));
    } else {
      return; // a body delimited by close: finished in the 'close' handler (not used by bench servers)
    }
    const keepAlive = !lower.includes('\r\nconnection: close');
    this.#buffer = this.#buffer.subarray(end);
    if (!keepAlive) {
      const socket = this.#socket;
      this.#socket = undefined;
      socket?.destroy();
    }
    this.#settle({ status, body });
  }

  #fail(error: 'connect' | 'read' | 'timeout'): void {
    if (this.#pending === undefined) return;
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.destroy(); // a timed-out request's late answer must not be taken for the next one's
    this.#settle({ status: 0, body: '', error });
  }

  #settle(reply: HttpReply): void {
    const resolve = this.#pending;
    this.#pending = undefined;
    clearTimeout(this.#timer);
    this.busy = false;
    resolve?.(reply);
  }
}

function dechunk(raw: Buffer): string {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd === -1) break;
    const size = parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0)) break;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts).toString('utf8');
}
