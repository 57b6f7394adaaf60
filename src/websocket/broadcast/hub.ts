/**
 * Publish/subscribe for groups of sockets: a chat room, a document's editors, a user's tabs.
 *
 * A subscriber (one socket) joins topics; `publish(topic, message)` reaches every subscriber of the
 * topic in this process at once, and, through a transport (broadcast/redis.ts), every subscriber in
 * the other workers and machines. A subscriber that cannot take a message now (its socket's send
 * buffer is over the backpressure bound) gets it queued in its own bounded queue; a queue that
 * overflows makes it a slow consumer, which the owner drops. One slow reader therefore costs at most
 * `maxQueuedMessages` messages of memory and never slows the publisher or the other subscribers.
 *
 * No I/O here: delivery goes through the sink each subscriber supplies, remote fan-out through the
 * transport.
 */
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../errors.ts';

/** Text arrives as a text frame, bytes as a binary frame, as the publisher sent them. */
export type BroadcastMessage = string | Uint8Array;

/** What a subscriber does with a message: its socket. */
export interface BroadcastSink {
  /** False while the socket's send buffer is over its backpressure bound: messages wait in the queue. */
  writable(): boolean;
  write(message: BroadcastMessage): void;
  /** The subscriber's queue overflowed: drop it as a slow consumer. Called once. */
  overflow(): void;
}

/** Carries messages to the hubs of other processes (and theirs to this one). */
export interface BroadcastTransport {
  /** Called once by the hub with its node id (to skip its own echoes) and its delivery function. */
  attach(nodeId: Uint8Array, deliver: (topic: string, message: BroadcastMessage) => void): void;
  /** Resolves once the transport can carry messages (the plugin awaits it at startup, bounded). */
  ready?(): Promise<void>;
  /** Sends to every other process; a failure is the transport's to count and log, never the publisher's. */
  publish(topic: string, message: BroadcastMessage): void;
  /** The first local subscriber joined `topic`. */
  subscribe(topic: string): void;
  /** The last local subscriber left `topic`. */
  unsubscribe(topic: string): void;
  close(): Promise<void>;
}

export interface BroadcastOptions {
  /** Messages a subscriber may have waiting before it is dropped as a slow consumer. Default 1,000. */
  maxQueuedMessages?: number;
  /** Other processes and machines: `redisTransport({ url })`. Default: this process only. */
  transport?: BroadcastTransport;
}

export interface BroadcastStats {
  readonly topics: number;
  readonly subscribers: number;
  readonly published: number;
  readonly delivered: number;
  readonly queued: number;
  readonly droppedSubscribers: number;
}

export const DEFAULT_MAX_QUEUED_MESSAGES = 1_000;

export class Broadcast {
  readonly maxQueuedMessages: number;
  readonly #topics = new Map<string, Set<Subscriber>>();
  readonly #transport: BroadcastTransport | undefined;
  readonly #live = new Set<Subscriber>();
  #published = 0;
  #delivered = 0;
  #dropped = 0;
  #closed = false;

  constructor(options: BroadcastOptions = {}) {
    const max = options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES;
    if (!Number.isSafeInteger(max) || max < 1 || max > 10_000_000) {
      throw new ConfigError('VIAL_ERR_WS_OPTIONS', `broadcast maxQueuedMessages must be an integer from 1 to 10000000, got ${String(max)}.`);
    }
    this.maxQueuedMessages = max;
    this.#transport = options.transport;
    this.#transport?.attach(randomBytes(16), (topic, message) => this.#deliver(topic, message, undefined));
  }

  /** A subscriber for one socket; the plugin creates it on first join. */
  subscriber(sink: BroadcastSink): Subscriber {
    const subscriber = new Subscriber(this, sink);
    this.#live.add(subscriber);
    return subscriber;
  }

  /** Sends `message` to every subscriber of `topic` here and in the other processes, except `options.except`. */
  publish(topic: string, message: BroadcastMessage, options: { except?: Subscriber | undefined } = {}): void {
    if (this.#closed) return;
    this.#published++;
    this.#deliver(topic, message, options.except);
    this.#transport?.publish(topic, message);
  }

  /** Local subscribers of `topic`. */
  count(topic: string): number {
    return this.#topics.get(topic)?.size ?? 0;
  }

  get stats(): BroadcastStats {
    let queued = 0;
    for (const subscriber of this.#live) queued += subscriber.queued;
    return { topics: this.#topics.size, subscribers: this.#live.size, published: this.#published, delivered: this.#delivered, queued, droppedSubscribers: this.#dropped };
  }

  /** Resolves once the transport is connected (at once without one). */
  async ready(): Promise<void> {
    await this.#transport?.ready?.();
  }

  /** Stops publishing and closes the transport. Subscribers stay as they are (their sockets close on their own). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#transport?.close();
  }

  #deliver(topic: string, message: BroadcastMessage, except: Subscriber | undefined): void {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined) return;
    for (const subscriber of subscribers) {
      if (subscriber !== except && subscriber.push(message)) this.#delivered++;
    }
  }

  /** @internal Subscriber's side of joining and leaving. */
  join(subscriber: Subscriber, topic: string): void {
    let subscribers = this.#topics.get(topic);
    if (subscribers === undefined) {
      subscribers = new Set();
      this.#topics.set(topic, subscribers);
      this.#transport?.subscribe(topic);
    }
    subscribers.add(subscriber);
  }

  /** @internal */
  leave(subscriber: Subscriber, topic: string): void {
    const subscribers = this.#topics.get(topic);
    if (subscribers === undefined || !subscribers.delete(subscriber)) return;
    if (subscribers.size === 0) {
      this.#topics.delete(topic);
      this.#transport?.unsubscribe(topic);
    }
  }

  /** @internal */
  released(subscriber: Subscriber, dropped: boolean): void {
    this.#live.delete(subscriber);
    if (dropped) this.#dropped++;
  }
}

/**
 * One socket's membership and its bounded queue. The queue is a ring of `maxQueuedMessages` slots,
 * allocated on the first message that has to wait (most subscribers never queue anything).
 */
export class Subscriber {
  readonly #hub: Broadcast;
  readonly #sink: BroadcastSink;
  readonly #topics = new Set<string>();
  #ring: (BroadcastMessage | undefined)[] | undefined;
  #head = 0;
  #length = 0;
  #released = false;

  constructor(hub: Broadcast, sink: BroadcastSink) {
    this.#hub = hub;
    this.#sink = sink;
  }

  join(topic: string): void {
    if (this.#released || this.#topics.has(topic)) return;
    this.#topics.add(topic);
    this.#hub.join(this, topic);
  }

  leave(topic: string): void {
    if (!this.#topics.delete(topic)) return;
    this.#hub.leave(this, topic);
  }

  get topics(): ReadonlySet<string> {
    return this.#topics;
  }

  /** Messages waiting for the socket to drain. */
  get queued(): number {
    return this.#length;
  }

  /** Delivers or queues one message; false when the subscriber is gone or was just dropped. */
  push(message: BroadcastMessage): boolean {
    if (this.#released) return false;
    // Order is kept: once something waits, everything after it waits too.
    if (this.#length === 0 && this.#sink.writable()) {
      this.#sink.write(message);
      return true;
    }
    const max = this.#hub.maxQueuedMessages;
    if (this.#length >= max) {
      this.release(true);
      this.#sink.overflow();
      return false;
    }
    this.#ring ??= new Array<BroadcastMessage | undefined>(max);
    this.#ring[(this.#head + this.#length) % max] = message;
    this.#length++;
    return true;
  }

  /** The socket drained: sends what waited, until the socket is over its bound again. */
  flush(): void {
    const ring = this.#ring;
    if (ring === undefined) return;
    const max = ring.length;
    while (this.#length > 0 && !this.#released && this.#sink.writable()) {
      const message = ring[this.#head] as BroadcastMessage;
      ring[this.#head] = undefined;
      this.#head = (this.#head + 1) % max;
      this.#length--;
      this.#sink.write(message);
    }
  }

  /** Leaves every topic and drops the queue; `dropped` counts it as a slow consumer. Idempotent. */
  release(dropped = false): void {
    if (this.#released) return;
    this.#released = true;
    for (const topic of this.#topics) this.#hub.leave(this, topic);
    this.#topics.clear();
    this.#ring = undefined;
    this.#length = 0;
    this.#hub.released(this, dropped);
  }
}
