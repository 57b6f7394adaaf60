/**
 * One open WebSocket as a handler sees it (`ctx.websocket`): send, listen, close, groups, the
 * session, a logger with the connection id. Every limit of the route is enforced here, on the `ws`
 * socket underneath:
 *   - messages per second (rate.ts): over it, close 1008;
 *   - backpressure (backpressure.ts): above the send-buffer bound vial stops reading the peer; a
 *     consumer that stays above it is dropped (1008); broadcast messages wait in the subscriber's
 *     bounded queue meanwhile (broadcast/hub.ts);
 *   - idle timeout: no message either way for `idleTimeoutMs` closes with 1000;
 *   - a listener that throws (or rejects) closes this socket with 1011 and is logged: never the process.
 * The largest message is ws' own `maxPayload` (close 1009); the heartbeat is the plugin's.
 */
import { AsyncResource } from 'node:async_hooks';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { runInContext } from '../context.ts';
import type { Context, SessionLike } from '../context.ts';
import { VialError } from '../errors.ts';
import { BackpressurePolicy } from './backpressure.ts';
import { coarseNow, holdCoarseClock, releaseCoarseClock } from './clock.ts';
import type { Broadcast, BroadcastMessage, Subscriber } from './broadcast/hub.ts';
import type { ResolvedRouteLimits } from './options.ts';
import { MessageRate } from './rate.ts';
import { wsChannel } from './events.ts';
import type { RouteCounters } from './stats.ts';



/** A message as received: text frames as strings, binary frames as Buffers. */
export type WebSocketMessage = string | Buffer;

type MessageListener = (message: WebSocketMessage, socket: WebSocketConnection) => unknown;
type CloseListener = (code: number, reason: string) => unknown;

/** What the plugin hands a connection: its route's limits and the process-wide services. */
export interface ConnectionDeps {
  readonly limits: ResolvedRouteLimits;
  /** The route's counters (stats.ts): messages, drops, errors. */
  readonly counters: RouteCounters;
  readonly closeTimeoutMs: number;
  readonly hub: Broadcast;
  /** Saves a session; resolves with true when its cookie changed (a new id, which the browser cannot get now). */
  readonly saveSession: (session: SessionLike) => Promise<boolean>;
  readonly onClosed: (connection: WebSocketConnection) => void;
}

/** ws' send options, shared: an object per send would be garbage on every message (ws copies them). */
const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/**
 * The text message listeners are being handed right now, and the bytes it was decoded from. A
 * listener that sends that very string on, synchronously (an echo, a relay to a group: any socket's
 * send), sends those bytes instead of encoding the string again: ws has validated them as UTF-8, so
 * they are exactly what encoding the string gives. Set only while listeners run, so no socket holds
 * on to its last message.
 */
let deliveringText: string | undefined;
let deliveringBytes: Buffer | undefined;

export class WebSocketConnection {
  /** The handshake request's id: in every log line of this socket (`connId`). */
  readonly id: string;
  /** `GET /chat/<room>`: the route key. */
  readonly route: string;
  /** The handshake request's context (`g`, `params`, `session`); usable for the socket's whole life. */
  readonly ctx: Context;
  /** The `ws` socket underneath, for what this wrapper does not cover. */
  readonly raw: WebSocket;
  /** Messages received and sent on this socket. */
  received = 0;
  sent = 0;
  /** Answered the last ping (the plugin's heartbeat reads and clears it). */
  alive = true;
  readonly #deps: ConnectionDeps;
  /**
   * The handshake's async context, captured once: listeners run in it. A resource rather than
   * runInContext() per message, which builds a new context frame (a copy of the current one) on
   * every call; this one also keeps whatever else the handshake's context carried (a trace span).
   */
  readonly #scope: AsyncResource;
  readonly #net: Socket;
  readonly #rate: MessageRate;
  /** Created the first time the buffer goes over its bound: most sockets never need it. */
  #backpressure: BackpressurePolicy | undefined;
  /** The policy's bound, here too: send() compares with it on every message without touching the policy. */
  readonly #maxBufferedBytes: number;
  /** The first message listener in a field, the rest (rare) in an array: no array to read per message. */
  #onMessage: MessageListener | undefined;
  #moreOnMessage: MessageListener[] | undefined;
  #closeListeners: CloseListener[] | undefined;
  #subscriber: Subscriber | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  /** coarseNow() (clock.ts) of the last message either way: the idle timer checks it when it fires, so a message costs no timer refresh. */
  #lastActiveAt = 0;
  #slowTimer: NodeJS.Timeout | undefined;
  /** Reading stopped for backpressure (raw.pause()), until the buffer is back under its bound. */
  #readPaused = false;
  #killTimer: NodeJS.Timeout | undefined;
  #log: Logger | undefined;
  #closing = false;
  #shuttingDown = false;
  #closed = false;

  constructor(raw: WebSocket, net: Socket, ctx: Context, deps: ConnectionDeps) {
    this.raw = raw;
    this.#net = net;
    this.ctx = ctx;
    this.#deps = deps;
    this.id = ctx.id;
    this.route = ctx.route?.key ?? '';
    // Entered explicitly, so the scope holds this ctx wherever the constructor is called from.
    this.#scope = runInContext(ctx, () => new AsyncResource('vial.websocket'));
    const { limits } = deps;
    holdCoarseClock();
    this.#rate = new MessageRate(limits.maxMessagesPerSecond, limits.messageBurst, coarseNow());
    this.#maxBufferedBytes = limits.maxBufferedBytes;
    if (limits.idleTimeoutMs > 0) {
      this.#lastActiveAt = coarseNow();
      this.#armIdle(limits.idleTimeoutMs, limits.idleTimeoutMs);
    }
    raw.on('message', (data: RawData, isBinary: boolean) => this.#receive(data, isBinary));
    raw.on('pong', () => {
      this.alive = true;
    });
    raw.on('close', (code, reason) => this.#onClose(code, reason.toString('utf8')));
    // A reset peer: ws emits 'close' right after; nothing to answer, but never an unhandled 'error'.
    raw.on('error', (error) => this.log.debug({ err: error }, 'vial websocket: socket error'));
    net.on('drain', () => this.#checkBuffer());
  }

  /** A logger carrying the handshake's reqId and route and this socket's connId (created on first use: most sockets never log). */
  get log(): Logger {
    this.#log ??= this.ctx.log.child({ connId: this.id });
    return this.#log;
  }

  /** True once the socket is closing: by either side, a limit, or the server's shutdown. */
  get closing(): boolean {
    return this.#closing || this.#closed;
  }

  /** True from the start of a graceful shutdown: finish up, the server closes with 1001 after its grace period. */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /** Bytes waiting to be sent (ws' buffer and the kernel-side socket buffer). */
  get bufferedAmount(): number {
    return this.raw.bufferedAmount + this.#net.writableLength;
  }

  /** The session of the handshake request (loaded before the handler ran). */
  get session(): SessionLike {
    return this.ctx.session;
  }

  /**
   * Saves the session now. A socket has no response to carry a new cookie, so a change that needs
   * one (a new session, login, logout) is refused: do those over HTTP, then open the socket.
   */
  async saveSession(): Promise<void> {
    const changedCookie = await this.#deps.saveSession(this.ctx.session);
    if (changedCookie) {
      throw new VialError(
        'VIAL_ERR_WS_SESSION',
        'The session was saved, but its cookie changed (a new session, a login or logout, or cookie-stored sessions) and a WebSocket cannot set cookies. ' +
          'Log in and out over HTTP, before opening the socket; use a server-side session store for data written from sockets.',
      );
    }
  }

  /** Adds a listener for each message; a listener that throws or rejects closes the socket with 1011. */
  onMessage(listener: MessageListener): this {
    if (this.#onMessage === undefined) this.#onMessage = listener;
    else (this.#moreOnMessage ??= []).push(listener);
    return this;
  }

  /** Runs once the socket is closed, with the close code and reason. */
  onClose(listener: CloseListener): this {
    if (this.#closed) queueMicrotask(() => this.#scope.runInAsyncScope(this.#settle, this, listener, 1006, '', 'close listener'));
    else (this.#closeListeners ??= []).push(listener);
    return this;
  }

  /**
   * Sends a text (string) or binary message. False when the socket is closing, or when this send
   * put its buffer over the bound (vial then stops reading the peer until it drains).
   */
  send(message: BroadcastMessage): boolean {
    if (this.#closing || this.#closed) return false;
    if (typeof message !== 'string') this.raw.send(message, BINARY);
    else this.raw.send(message === deliveringText ? (deliveringBytes as Buffer) : message, TEXT);
    this.sent++;
    this.#deps.counters.messagesOut++;
    if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'out', route: this.route });
    if (this.#idleTimer !== undefined) this.#lastActiveAt = coarseNow();
    // The common case, not paused and under the bound: the policy and its clock read only once the
    // buffer is over it (or was: then #checkBuffer resumes reading).
    if (!this.#readPaused && this.raw.bufferedAmount + this.#net.writableLength <= this.#maxBufferedBytes) {
      this.#subscriber?.flush();
      return true;
    }
    return this.#checkBuffer();
  }

  /** Fires after `inMs`; closes when nothing moved for `idleMs` since the last message, else waits out the rest. */
  #armIdle(inMs: number, idleMs: number): void {
    this.#idleTimer = setTimeout(() => {
      const idle = coarseNow() - this.#lastActiveAt;
      if (idle >= idleMs) this.close(1000, 'idle timeout');
      else if (!this.closing) this.#armIdle(idleMs - idle, idleMs);
    }, inMs);
    this.#idleTimer.unref();
  }

  /** Joins a broadcast group: every `publish(topic, ...)`, in this process or (with Redis) any other, reaches this socket. */
  join(topic: string): this {
    this.#subscribe().join(topic);
    return this;
  }

  leave(topic: string): this {
    this.#subscriber?.leave(topic);
    return this;
  }

  get topics(): ReadonlySet<string> {
    return this.#subscriber?.topics ?? new Set();
  }

  /** Sends to every socket in `topic` (here and in other processes), except this one unless `includeSelf`. */
  publish(topic: string, message: BroadcastMessage, options: { includeSelf?: boolean } = {}): void {
    this.#deps.hub.publish(topic, message, { except: options.includeSelf === true ? undefined : this.#subscriber });
  }

  /** Starts the closing handshake; a peer that does not answer within closeTimeoutMs is cut off. */
  close(code = 1000, reason = ''): void {
    if (this.closing) return;
    this.#closing = true;
    this.raw.close(code, reason);
    // The peer's close frame has to be read for the closing handshake to finish (messages that
    // arrive meanwhile are ignored), even on a socket paused for backpressure or not started yet.
    this.raw.resume();
    this.#killTimer = setTimeout(() => this.raw.terminate(), this.#deps.closeTimeoutMs);
    this.#killTimer.unref();
  }

  /** Closes at once, without the closing handshake (a dead peer, a consumer past the hard bound). */
  terminate(): void {
    this.#closing = true;
    this.raw.terminate();
  }

  /** @internal The server is shutting down: handlers see `shuttingDown`. */
  markShuttingDown(): void {
    this.#shuttingDown = true;
  }

  /** @internal Called by the plugin right after the user's handler ran (or failed). */
  start(failure: unknown): void {
    if (failure !== undefined) this.#fail(failure, 'handler');
    else this.raw.resume();
  }

  #subscribe(): Subscriber {
    this.#subscriber ??= this.#deps.hub.subscriber({
      writable: () => !this.#readPaused && this.bufferedAmount <= this.#maxBufferedBytes,
      write: (message) => this.send(message),
      overflow: () => this.#drop('broadcast queue full'),
    });
    return this.#subscriber;
  }

  #receive(data: RawData, isBinary: boolean): void {
    if (this.#closing || this.#closed) return;
    const now = coarseNow();
    if (!this.#rate.take(now)) {
      this.#deps.counters.rateLimited++;
      this.log.warn({ maxMessagesPerSecond: this.#rate.ratePerSec }, 'vial websocket: message rate exceeded, closing 1008');
      if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'rate-limited', route: this.route });
      this.close(1008, 'message rate exceeded');
      return;
    }
    this.received++;
    this.#deps.counters.messagesIn++;
    if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'in', route: this.route });
    this.#lastActiveAt = now;
    // ws hands a Buffer by default: used as it is (Buffer.from(buffer) would copy every message).
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (this.#onMessage === undefined) return;
    if (isBinary) {
      this.#scope.runInAsyncScope(this.#deliver, this, bytes);
      return;
    }
    const text = bytes.toString('utf8');
    const outerText = deliveringText;
    const outerBytes = deliveringBytes;
    deliveringText = text;
    deliveringBytes = bytes;
    try {
      this.#scope.runInAsyncScope(this.#deliver, this, text);
    } finally {
      deliveringText = outerText;
      deliveringBytes = outerBytes;
    }
  }

  /** Runs the message listeners, in the handshake's context (entered once per message, not per listener). */
  #deliver(message: WebSocketMessage): void {
    if (!this.#settle(this.#onMessage as MessageListener, message, this, 'message listener')) return;
    const more = this.#moreOnMessage;
    if (more === undefined) return;
    for (let i = 0; i < more.length; i++) {
      if (!this.#settle(more[i] as MessageListener, message, this, 'message listener')) return;
    }
  }

  /** Calls `listener(a, b)`; false when it threw (the socket is closing then). A rejection closes the socket too. */
  #settle<A, B>(listener: (a: A, b: B) => unknown, a: A, b: B, what: string): boolean {
    let result: unknown;
    try {
      result = listener(a, b);
    } catch (error) {
      this.#fail(error, what);
      return false;
    }
    if (result instanceof Promise) result.catch((error: unknown) => this.#fail(error, what));
    return true;
  }

  #fail(error: unknown, what: string): void {
    if (!this.closing) this.#deps.counters.errors++;
    this.log.error({ err: error }, `vial websocket: the ${what} threw; closing this socket with 1011`);
    if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'error', route: this.route });
    this.close(1011, 'internal error');
  }

  /** Applies the backpressure policy to the buffer as it is now; true while reading goes on. */
  #checkBuffer(): boolean {
    if (this.#closed) return false;
    const { limits } = this.#deps;
    const policy = (this.#backpressure ??= new BackpressurePolicy(limits.maxBufferedBytes, limits.slowConsumerTimeoutMs));
    const action = policy.check(this.bufferedAmount, performance.now());
    if (action === 'drop') {
      this.#drop('send buffer stayed over its bound');
      return false;
    }
    if (action === 'pause') {
      if (!this.#readPaused) {
        this.#readPaused = true;
        this.raw.pause();
      }
      if (this.#slowTimer === undefined) {
        this.#slowTimer = setTimeout(() => {
          this.#slowTimer = undefined;
          this.#checkBuffer();
        }, Math.max(0, (policy.deadline() ?? 0) - performance.now()));
        this.#slowTimer.unref();
      }
      return false;
    }
    clearTimeout(this.#slowTimer);
    this.#slowTimer = undefined;
    // Its own flag, not the timer: the timer may have fired (and found the buffer back under the
    // bound) before the drain, and the socket must still resume.
    if (this.#readPaused) {
      this.#readPaused = false;
      if (!this.closing) this.raw.resume();
    }
    this.#subscriber?.flush();
    return true;
  }

  #drop(why: string): void {
    if (this.closing) return;
    this.#deps.counters.droppedSlow++;
    this.log.warn({ bufferedBytes: this.bufferedAmount, queued: this.#subscriber?.queued ?? 0 }, `vial websocket: slow consumer dropped (${why}), closing 1008`);
    if (wsChannel.hasSubscribers) wsChannel.publish({ event: 'dropped', route: this.route });
    this.#subscriber?.release(true);
    this.close(1008, 'slow consumer');
    // Its buffer is full: the close frame would wait behind it. Free the memory now.
    this.terminate();
  }

  #onClose(code: number, reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    releaseCoarseClock();
    for (const timer of [this.#idleTimer, this.#slowTimer, this.#killTimer]) clearTimeout(timer);
    this.#subscriber?.release(false);
    this.#deps.onClosed(this);
    for (const listener of this.#closeListeners?.splice(0) ?? []) this.#scope.runInAsyncScope(this.#settle, this, listener, code, reason, 'close listener');
  }
}
