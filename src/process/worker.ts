/**
 * Worker side of the process model: takes the connections the primary hands over IPC, answers
 * heartbeats with what it is running, asks to be recycled after its request budget, and drains
 * on request. The message shapes shared with src/process/supervisor.ts live here.
 */

import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { ConfigError } from '../errors.ts';
import type { ProcessLogger } from './options.ts';
import { silentLogger } from './options.ts';
import { trackRequests } from './shutdown.ts';
import { heapLayout } from '../memory/heap-layout.ts';
import type { RefusalStyle } from '../error-response.ts';

/** What a worker reports with every heartbeat reply (and unsolicited when a request starts). */
export interface WorkerStatus {
  /** The ping this answers; null for an unsolicited report. */
  seq: number | null;
  requests: number;
  inFlightCount: number;
  inFlight: string[];
  rssBytes: number;
  /**
   * V8's heap without a GC: used, committed, and the committed young generation. RSS alone does
   * not say whether a worker grows by live data or by heap V8 sized up (memory/heap-layout.ts).
   */
  heap: WorkerHeap;
}

export interface WorkerHeap {
  usedBytes: number;
  committedBytes: number;
  youngCommittedBytes: number;
}

export type PrimaryMessage =
  | readonly ['vial:conn']
  | readonly ['vial:ping', number]
  | readonly ['vial:drain']
  | readonly ['vial:settings', WorkerSettings];

/**
 * What the primary decides for one worker, sent in answer to its `vial:ready` (so before any
 * connection: IPC keeps the order). Intentionally a message rather than the fork's environment or
 * `cluster.setupPrimary({ args })`: settings differ per worker (the budget is jittered), setupPrimary
 * is one global for every later fork, and the environment is read by everything in the process,
 * the app included.
 */
export interface WorkerSettings {
  /** Ask to be recycled after this many requests; 0 never. */
  readonly maxRequests: number;
}

export type WorkerMessage =
  | readonly ['vial:ready']
  | readonly ['vial:status', WorkerStatus]
  | readonly ['vial:recycle', { requests: number }];

// A blocked worker cannot answer pings, so the primary only knows what it was running from the
// last report it sent. Reporting when a request starts (at most this often) makes that report
// name the request that went on to block in the common case, at a bounded IPC cost.
const UNSOLICITED_STATUS_GAP_MS = 100;

export interface WorkerOptions {
  server: Server;
  /**
   * The app's drain: stop admitting (503 while draining) and resolve when its work is done.
   * `httpIdle` resolves once the server's requests are done, including the first request of
   * connections the primary handed over just before the drain; closing admission only after it
   * serves those requests instead of refusing them (see GracefulShutdownOptions.onDrain).
   */
  onDrain?: (httpIdle: () => Promise<void>) => Promise<void>;
  /** Route-level description of in-flight work for heartbeat replies. Default: `METHOD /path (age)` per request. */
  describeInFlight?: () => string[];
  /** Answer requests arriving during the drain with 503 here. Default true; false when the dispatcher does it. */
  refuseNewRequests?: boolean;
  /** How the shutdown 503 looks: `app.refusalStyle`. */
  refusal?: RefusalStyle;
  log?: ProcessLogger;
  /** Default `process.exit`. */
  exit?: (code: number) => void;
}

export interface WorkerRuntime {
  /** True once the primary asked this worker to drain; the dispatcher refuses new requests while set. */
  readonly draining: boolean;
  readonly requests: number;
  /** Drains as if the primary had asked (used on SIGTERM). */
  drain(reason: string): Promise<void>;
  dispose(): void;
}

function isPrimaryMessage(msg: unknown): msg is PrimaryMessage {
  return Array.isArray(msg) && typeof msg[0] === 'string' && msg[0].startsWith('vial:');
}

export function runWorker(options: WorkerOptions): WorkerRuntime {
  const send = process.send?.bind(process);
  if (send === undefined) {
    throw new ConfigError(
      'VIAL_ERR_NOT_A_WORKER',
      'runWorker() was called in a process without an IPC channel to a primary. Start the app through ' +
        'runSupervisor() (`vial run app.ts --workers N`), or call server.listen() directly for one process.',
    );
  }
  const { server } = options;
  if (server.listening) {
    throw new ConfigError(
      'VIAL_ERR_WORKER_LISTENING',
      'runWorker() was given a server that is already listening. In a worker the primary owns the ' +
        'socket and hands connections over; do not call listen() in worker processes.',
    );
  }
  const log = options.log ?? silentLogger;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  // Until the primary's vial:settings arrive (before the first connection), no budget.
  let maxRequests = 0;
  let draining = false;
  let drainPromise: Promise<void> | null = null;
  let lastUnsolicitedAt = 0;

  function post(msg: WorkerMessage): void {
    if (process.connected) send!(msg);
  }

  function status(seq: number | null, inFlight: string[]): WorkerStatus {
    const layout = heapLayout();
    return {
      seq, requests: tracker.total, inFlightCount: tracker.inFlight, inFlight, rssBytes: layout.rssBytes,
      heap: { usedBytes: layout.heapUsedBytes, committedBytes: layout.heapCommittedBytes, youngCommittedBytes: layout.youngCommittedBytes },
    };
  }

  const tracker = trackRequests(server, function onRequest(total) {
    if (maxRequests > 0 && total === maxRequests) post(['vial:recycle', { requests: total }]);
    const now = Date.now();
    if (now - lastUnsolicitedAt >= UNSOLICITED_STATUS_GAP_MS) {
      lastUnsolicitedAt = now;
      // Intentionally the tracker's own description: the app's describer has not seen this request yet.
      post(['vial:status', status(null, tracker.describe())]);
    }
  }, options.refusal);

  // http.Server sets up its connection list (used by closeIdleConnections, closeAllConnections and
  // the headersTimeout/requestTimeout checks) in a 'listening' listener installed by its
  // constructor. A worker never listens, so it raises the event itself; test/process-supervisor.test.ts
  // checks that a worker still answers a slow client with 408.
  server.emit('listening');

  function onMessage(msg: unknown, handle: unknown): void {
    if (!isPrimaryMessage(msg)) return;
    switch (msg[0]) {
      case 'vial:conn': {
        // The handle is absent when the client closed the connection while it was in transit
        // (Node docs, subprocess.send: "the connection may have been closed").
        if (handle === undefined || handle === null) return;
        const socket = handle as Socket;
        server.emit('connection', socket);
        socket.resume();
        return;
      }
      case 'vial:ping': {
        post(['vial:status', status(msg[1], options.describeInFlight?.() ?? tracker.describe())]);
        return;
      }
      case 'vial:drain':
        void api.drain('primary');
        return;
      case 'vial:settings': {
        const budget = msg[1].maxRequests;
        maxRequests = Number.isInteger(budget) && budget > 0 ? budget : 0;
        return;
      }
    }
  }
  process.on('message', onMessage);

  // Ctrl+C signals the whole process group: the primary coordinates the drain, so workers ignore
  // SIGINT. A SIGTERM aimed at this worker alone drains it; the primary then starts a new one.
  function onSigint(): void {}
  function onSigterm(): void {
    void api.drain('SIGTERM');
  }
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);

  async function runDrain(reason: string): Promise<void> {
    draining = true;
    log.info({ pid: process.pid, reason, inFlight: tracker.inFlight }, 'worker draining');
    tracker.startClosing(options.refuseNewRequests ?? true);
    // Intentionally no server.close(): the worker never listened, and http.Server's close() would
    // close connections the primary handed over just before the drain (see trackRequests).
    await Promise.all([
      options.onDrain?.(() => tracker.idle()).catch((err: unknown) => log.error({ err }, 'onDrain failed during worker drain')),
      tracker.idle(),
    ]);
    server.closeAllConnections();
    server.close();
    log.info({ pid: process.pid, requests: tracker.total }, 'worker drained; exiting');
    api.dispose();
    exit(0);
  }

  const api: WorkerRuntime = {
    get draining() {
      return draining;
    },
    get requests() {
      return tracker.total;
    },
    drain(reason) {
      drainPromise ??= runDrain(reason);
      return drainPromise;
    },
    dispose() {
      process.removeListener('message', onMessage);
      process.removeListener('SIGINT', onSigint);
      process.removeListener('SIGTERM', onSigterm);
      tracker.dispose();
    },
  };
  post(['vial:ready']);
  return api;
}
