/**
 * Broadcast across workers and machines through Redis pub/sub (ioredis). Each process subscribes
 * only to the topics it has local subscribers for (one SUBSCRIBE on the first, UNSUBSCRIBE after the
 * last), so a worker is not woken for rooms it does not host. A published message goes to Redis as
 * one PUBLISH of an envelope: a kind byte (text or binary, so the frame type survives), the 16-byte
 * id of the publishing hub (which skips its own echo: it has delivered locally already), then the
 * payload bytes.
 *
 * Redis pub/sub is at-most-once: a message published while a process is disconnected never reaches
 * it. The publisher has no offline queue (enableOfflineQueue: false), so an outage drops and counts
 * messages instead of buffering them without bound; the subscriber client resubscribes on reconnect.
 */
import { once } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { outsideRequestContext } from '../../context.ts';
import type { BroadcastMessage, BroadcastTransport } from './hub.ts';

export interface RedisTransportOptions {
  /** redis[s]://[user:password@]host:port[/db]; the transport opens two connections (publish, subscribe) and closes them. */
  readonly url: string;
  /** Prefix of every channel name. Default 'vial:ws:'. */
  readonly prefix?: string;
  /** Where connection problems are reported (warn once per outage). Default: silent. */
  readonly log?: Logger;
}

export interface RedisTransportStats {
  readonly published: number;
  readonly received: number;
  /** Publishes that failed (Redis unreachable): those messages reached only this process. */
  readonly failed: number;
}

const TEXT = 0x74; // 't'
const BINARY = 0x62; // 'b'
const ID_BYTES = 16;
const HEADER_BYTES = 1 + ID_BYTES;

export function encodeEnvelope(nodeId: Uint8Array, message: BroadcastMessage): Buffer {
  const text = typeof message === 'string';
  const payloadBytes = text ? Buffer.byteLength(message) : message.byteLength;
  const out = Buffer.allocUnsafe(HEADER_BYTES + payloadBytes);
  out[0] = text ? TEXT : BINARY;
  out.set(nodeId, 1);
  if (text) out.write(message, HEADER_BYTES, 'utf8');
  else out.set(message, HEADER_BYTES);
  return out;
}

/** The sender's id and the message, or undefined for bytes that are no envelope of ours. */
export function decodeEnvelope(bytes: Buffer): { readonly from: Buffer; readonly message: BroadcastMessage } | undefined {
  if (bytes.length < HEADER_BYTES || (bytes[0] !== TEXT && bytes[0] !== BINARY)) return undefined;
  const from = bytes.subarray(1, HEADER_BYTES);
  const payload = bytes.subarray(HEADER_BYTES);
  return { from, message: bytes[0] === TEXT ? payload.toString('utf8') : new Uint8Array(payload) };
}

export class RedisTransport implements BroadcastTransport {
  readonly prefix: string;
  readonly #options: RedisTransportOptions;
  #clients: Promise<{ readonly pub: Redis; readonly sub: Redis }> | undefined;
  #pub: Redis | undefined;
  #nodeId: Buffer = Buffer.alloc(ID_BYTES);
  #deliver: ((topic: string, message: BroadcastMessage) => void) | undefined;
  #published = 0;
  #received = 0;
  #failed = 0;
  #warned = false;
  #closed = false;
  /** SUBSCRIBE/UNSUBSCRIBE commands Redis has not acknowledged yet. */
  readonly #pending = new Set<Promise<unknown>>();

  constructor(options: RedisTransportOptions) {
    this.#options = options;
    this.prefix = options.prefix ?? 'vial:ws:';
  }

  attach(nodeId: Uint8Array, deliver: (topic: string, message: BroadcastMessage) => void): void {
    this.#nodeId = Buffer.from(nodeId);
    this.#deliver = deliver;
    this.#connect().catch((error: unknown) => this.#warn(error, 'client failed to load'));
  }

  /**
   * Resolves once both connections are ready and every SUBSCRIBE so far is acknowledged, so a
   * message published after it reaches this process (the plugin awaits it at startup, bounded).
   */
  async ready(): Promise<void> {
    const { pub, sub } = await this.#connect();
    const connecting = [pub, sub].filter((client) => client.status !== 'ready').map((client) => once(client, 'ready'));
    await Promise.all([...connecting, ...this.#pending]);
  }

  get stats(): RedisTransportStats {
    return { published: this.#published, received: this.#received, failed: this.#failed };
  }

  publish(topic: string, message: BroadcastMessage): void {
    const pub = this.#pub;
    if (pub === undefined || pub.status !== 'ready') {
      this.#fail(new Error(`Redis is not connected (status ${pub?.status ?? 'connecting'})`));
      return;
    }
    this.#published++;
    pub.publish(this.prefix + topic, encodeEnvelope(this.#nodeId, message)).then(undefined, (error: unknown) => this.#fail(error));
  }

  subscribe(topic: string): void {
    this.#track(this.#connect().then(({ sub }) => sub.subscribe(this.prefix + topic)), 'subscribe failed');
  }

  unsubscribe(topic: string): void {
    this.#track(this.#connect().then(({ sub }) => sub.unsubscribe(this.prefix + topic)), 'unsubscribe failed');
  }

  #track(command: Promise<unknown>, what: string): void {
    const settled = command.then(undefined, (error: unknown) => this.#warn(error, what)).finally(() => this.#pending.delete(settled));
    this.#pending.add(settled);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const clients = await this.#clients?.catch(() => undefined);
    if (clients === undefined) return;
    // quit() waits for the server's OK; a client that never connected is simply disconnected.
    for (const client of [clients.pub, clients.sub]) {
      if (client.status === 'ready') await client.quit().then(undefined, () => client.disconnect());
      else client.disconnect();
    }
  }

  #connect(): Promise<{ readonly pub: Redis; readonly sub: Redis }> {
    // Created outside any request: the clients' sockets and timers live as long as the app.
    this.#clients ??= outsideRequestContext(() =>
      import('ioredis').then(({ Redis: Client }) => {
        const url = this.#options.url;
        const pub = new Client(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
        const sub = new Client(url, { autoResubscribe: true });
        for (const client of [pub, sub]) {
          // Without a listener ioredis prints every reconnect error; say it once per outage instead.
          client.on('error', (error: unknown) => this.#warn(error, 'connection error'));
          client.on('ready', () => {
            this.#warned = false;
          });
        }
        sub.on('messageBuffer', (channel: Buffer, bytes: Buffer) => this.#receive(channel, bytes));
        this.#pub = pub;
        return { pub, sub };
      }),
    );
    return this.#clients;
  }

  #receive(channel: Buffer, bytes: Buffer): void {
    const envelope = decodeEnvelope(bytes);
    if (envelope === undefined || envelope.from.equals(this.#nodeId)) return;
    const name = channel.toString('utf8');
    if (!name.startsWith(this.prefix)) return;
    this.#received++;
    this.#deliver?.(name.slice(this.prefix.length), envelope.message);
  }

  #fail(error: unknown): void {
    this.#failed++;
    this.#warn(error, 'publish failed; the message reached this process only');
  }

  #warn(error: unknown, what: string): void {
    if (this.#warned || this.#closed) return;
    this.#warned = true;
    this.#options.log?.warn({ err: error }, `vial websocket broadcast: Redis ${what}. Check that Redis is reachable at the configured url.`);
  }
}

/** `new Broadcast({ transport: redisTransport({ url: 'redis://127.0.0.1:6379' }) })` */
export function redisTransport(options: RedisTransportOptions): RedisTransport {
  return new RedisTransport(options);
}
