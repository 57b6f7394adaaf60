/**
 * Primary side of the process model. The primary owns the listening socket and hands each accepted
 * connection to a worker that answered its last heartbeat, so a worker whose event loop is blocked
 * gets nothing new (Node's own cluster round-robin would keep queueing connections to it). It
 * restarts dead workers with back-off, recycles them by request count or RSS (replacement first,
 * then drain), kills those that stop answering, and drains all of them on SIGTERM/SIGINT.
 */

import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { ConfigError } from '../errors.ts';
import type { ProcessLogger, ProcessOptions } from './options.ts';
import { resolveProcessOptions, silentLogger } from './options.ts';
import type { WorkerHeap, WorkerMessage, WorkerStatus } from './worker.ts';
import { typedChannel } from '../internal/channels.ts';

/** What `vial:worker` carries: one event per worker state change (ready, exit with its cause, ...). */
export interface WorkerEvent {
  readonly event: string;
  readonly workerId: number;
  readonly pid: number | undefined;
  readonly cause?: string;
  readonly [detail: string]: unknown;
}

export const workerChannel = typedChannel<WorkerEvent>('vial:worker');

export type RestartCause = 'crash' | 'recycle-requests' | 'recycle-memory' | 'unresponsive';

export interface SupervisorOptions extends ProcessOptions {
  /** Default 127.0.0.1; use '0.0.0.0' or '::' to accept from other machines. */
  host?: string;
  /** Default 0 (a free port; read it from `supervisor.address`). */
  port?: number;
  /** listen()'s backlog; default 2048, as load.server.listenBacklog (docs/load.md says why). */
  backlog?: number;
  /** Worker entry script; default the primary's own script (`process.argv[1]`), like cluster.fork(). */
  exec?: string;
  args?: string[];
  execArgv?: string[];
  /** Extra environment for workers, on top of the primary's. */
  env?: Record<string, string>;
  log?: ProcessLogger;
  /** Default SIGTERM and SIGINT; a second signal during shutdown forces it. */
  signals?: readonly NodeJS.Signals[];
  /** Called with the exit code when shutdown completes. Default `process.exit`. */
  exit?: (code: number) => void;
}

export interface WorkerStats {
  id: number;
  pid: number | undefined;
  state: 'starting' | 'ready' | 'draining';
  responsive: boolean;
  requests: number;
  inFlight: string[];
  rssBytes: number;
  /** From the worker's last report: heap used, committed, and committed young generation. */
  heap: WorkerHeap;
  /** Connections the primary has handed to this worker since it started (cumulative, not open ones). */
  connectionsHanded: number;
}

export interface SupervisorStats {
  workers: WorkerStats[];
  restarts: Record<RestartCause, number>;
  connections: { routed: number; pending: number; dropped: number };
}

export interface Supervisor {
  readonly address: AddressInfo;
  stats(): SupervisorStats;
  /** Drains every worker and exits; resolves with the exit code (0 when every worker drained cleanly). */
  shutdown(reason?: string): Promise<number>;
}

interface Slot {
  worker: Worker;
  id: number;
  pid: number | undefined;
  state: 'starting' | 'ready' | 'draining';
  startedAt: number;
  /** When the oldest unanswered ping was sent; null when all were answered. */
  awaitingSince: number | null;
  status: WorkerStatus;
  statusAt: number;
  handedSinceStatus: number;
  /** Cumulative: every connection handed to this worker (WorkerStats.connectionsHanded). */
  connectionsHanded: number;
  /** This worker's request budget (jittered), sent in vial:settings when it is ready. */
  maxRequests: number;
  /** Set once the primary decided this worker goes: it will not be restarted as a crash. */
  leaving: RestartCause | 'shutdown' | null;
  /** The worker this one replaces; drained once this one is ready. */
  replaces: Slot | null;
  graceTimer: NodeJS.Timeout | null;
}

export async function runSupervisor(options: SupervisorOptions): Promise<Supervisor> {
  if (!cluster.isPrimary) {
    throw new ConfigError(
      'VIAL_ERR_NOT_PRIMARY',
      'runSupervisor() was called inside a cluster worker. Call it from the primary only ' +
        '(check `cluster.isPrimary`) and runWorker() in the workers.',
    );
  }
  const config = resolveProcessOptions(options);
  const log = options.log ?? silentLogger;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const { intervalMs, timeoutMs } = config.heartbeat;
  const slots = new Map<number, Slot>();
  const pending: Socket[] = [];
  const restarts: Record<RestartCause, number> = { crash: 0, 'recycle-requests': 0, 'recycle-memory': 0, unresponsive: 0 };
  const connections = { routed: 0, dropped: 0 };
  let fastCrashes = 0;
  let rr = 0;
  let shuttingDown: Promise<number> | null = null;
  let forceShutdown: (() => void) | null = null;

  cluster.setupPrimary({
    ...(options.exec === undefined ? {} : { exec: options.exec }),
    ...(options.args === undefined ? {} : { args: options.args }),
    ...(options.execArgv === undefined ? {} : { execArgv: options.execArgv }),
  });

  function publish(event: string, slot: Slot, extra: Readonly<Record<string, unknown>> = {}): void {
    if (workerChannel.hasSubscribers) workerChannel.publish({ event, workerId: slot.id, pid: slot.pid, ...extra });
  }

  function fork(replaces: Slot | null): Slot {
    const { maxRequests, maxRequestsJitter } = config.recycle;
    const budget = maxRequests === 0 ? 0 : maxRequests + Math.floor(Math.random() * (maxRequestsJitter + 1));
    const worker = cluster.fork(options.env);
    const slot: Slot = {
      worker, id: worker.id, pid: worker.process.pid, state: 'starting', startedAt: Date.now(),
      awaitingSince: null, status: { seq: null, requests: 0, inFlightCount: 0, inFlight: [], rssBytes: 0, heap: { usedBytes: 0, committedBytes: 0, youngCommittedBytes: 0 } }, statusAt: Date.now(),
      handedSinceStatus: 0, connectionsHanded: 0, maxRequests: budget, leaving: null, replaces, graceTimer: null,
    };
    slots.set(slot.id, slot);
    worker.on('message', (msg: WorkerMessage) => onWorkerMessage(slot, msg));
    worker.on('exit', (code: number | null, signal: string | null) => onExit(slot, code, signal));
    // An 'error' (e.g. an IPC write to a worker that just died) is followed by 'exit', handled there.
    worker.on('error', (err: Error) => log.warn({ workerId: slot.id, pid: slot.pid, err }, 'worker IPC error'));
    publish('fork', slot, { replaces: replaces?.id ?? null, maxRequests: budget });
    return slot;
  }

  function responsive(slot: Slot, now: number): boolean {
    // A healthy worker answers a ping within milliseconds; one that has let half an interval pass
    // is treated as blocked for routing, long before the timeout decides to kill it.
    return slot.awaitingSince === null || now - slot.awaitingSince < intervalMs / 2;
  }

  function pick(): Slot | null {
    const now = Date.now();
    const healthy = [...slots.values()].filter((s) => s.state === 'ready' && responsive(s, now));
    // A worker being recycled serves only until its replacement is ready.
    const staying = healthy.filter((s) => s.leaving === null);
    const ready = staying.length > 0 ? staying : healthy;
    if (ready.length === 0) return null;
    rr = (rr + 1) % ready.length;
    let best: Slot | null = null;
    for (let i = 0; i < ready.length; i++) {
      const s = ready[(rr + i) % ready.length]!;
      const load = s.status.inFlightCount + s.handedSinceStatus;
      if (best === null || load < best.status.inFlightCount + best.handedSinceStatus) best = s;
    }
    return best;
  }

  function route(socket: Socket, attempt = 0): void {
    const slot = pick();
    if (slot === null) {
      if (pending.length >= config.maxPendingConnections) {
        connections.dropped++;
        socket.destroy();
        return;
      }
      pending.push(socket);
      return;
    }
    slot.handedSinceStatus++;
    slot.connectionsHanded++;
    connections.routed++;
    slot.worker.send(['vial:conn'], socket, { keepOpen: false }, (err: Error | null) => {
      if (err === null) return;
      // The handle only leaves this process once the write succeeded, so it can go elsewhere.
      if (attempt < 2 && !socket.destroyed) route(socket, attempt + 1);
      else {
        connections.dropped++;
        socket.destroy();
      }
    });
  }

  function flushPending(): void {
    while (pending.length > 0 && pick() !== null) route(pending.shift()!);
  }

  function drain(slot: Slot, cause: RestartCause | 'shutdown'): void {
    slot.leaving ??= cause;
    if (slot.state === 'starting') {
      slot.worker.process.kill('SIGKILL');
      return;
    }
    if (slot.state === 'draining') return;
    slot.state = 'draining';
    publish('drain', slot, { cause });
    slot.worker.send(['vial:drain']);
    slot.graceTimer = setTimeout(() => {
      log.warn({ workerId: slot.id, pid: slot.pid, inFlight: slot.status.inFlight, gracefulTimeoutMs: config.gracefulTimeoutMs },
        'worker did not drain within the grace period; killing it');
      slot.worker.process.kill('SIGKILL');
    }, config.gracefulTimeoutMs);
  }

  function recycle(slot: Slot, cause: 'recycle-requests' | 'recycle-memory', detail: object): void {
    if (slot.leaving !== null || shuttingDown !== null) return;
    slot.leaving = cause;
    restarts[cause]++;
    log.info({ workerId: slot.id, pid: slot.pid, cause, ...detail }, 'recycling worker: starting its replacement, then draining it');
    publish('recycle', slot, { cause, ...detail });
    fork(slot);
  }

  function onWorkerMessage(slot: Slot, msg: WorkerMessage): void {
    if (!Array.isArray(msg)) return;
    switch (msg[0]) {
      case 'vial:ready':
        // A worker killed while starting (drain() during shutdown) may still have its ready message
        // in the pipe; it is on its way out, so it never becomes ready (nor counts as unclean).
        if (slot.state !== 'starting' || slot.leaving !== null) return;
        slot.state = 'ready';
        slot.worker.send(['vial:settings', { maxRequests: slot.maxRequests }]);
        publish('ready', slot);
        if (slot.replaces !== null) drain(slot.replaces, slot.replaces.leaving ?? 'shutdown');
        if (shuttingDown !== null) drain(slot, 'shutdown');
        flushPending();
        return;
      case 'vial:status': {
        const status = msg[1];
        slot.status = status;
        slot.statusAt = Date.now();
        slot.handedSinceStatus = 0;
        if (status.seq !== null) slot.awaitingSince = null;
        const { maxRssBytes } = config.recycle;
        if (maxRssBytes > 0 && status.rssBytes > maxRssBytes && slot.state === 'ready') {
          recycle(slot, 'recycle-memory', { rssBytes: status.rssBytes, maxRssBytes });
        }
        flushPending();
        return;
      }
      case 'vial:recycle':
        if (slot.state === 'ready') recycle(slot, 'recycle-requests', { requests: msg[1].requests });
        return;
    }
  }

  function onExit(slot: Slot, code: number | null, signal: string | null): void {
    slots.delete(slot.id);
    if (slot.graceTimer !== null) clearTimeout(slot.graceTimer);
    const uptimeMs = Date.now() - slot.startedAt;
    publish('exit', slot, { code, signal, uptimeMs, cause: slot.leaving ?? 'crash' });
    if (slot.leaving !== null) {
      log.info({ workerId: slot.id, pid: slot.pid, code, signal, cause: slot.leaving }, 'worker exited');
      if (shuttingDown !== null && slots.size === 0) forceShutdown?.();
      return;
    }
    if (shuttingDown !== null) return;
    restarts.crash++;
    fastCrashes = uptimeMs < config.restart.minUptimeMs ? fastCrashes + 1 : 0;
    const { initialDelayMs, maxDelayMs } = config.restart;
    const delayMs = fastCrashes === 0 ? 0 : Math.min(maxDelayMs, initialDelayMs * 2 ** (fastCrashes - 1));
    log.error({ workerId: slot.id, pid: slot.pid, code, signal, uptimeMs, restartInMs: delayMs, inFlight: slot.status.inFlight },
      `worker ${slot.id} (pid ${slot.pid}) died with ${signal === null ? `exit code ${code}` : `signal ${signal}`} ` +
        `after ${uptimeMs} ms; restarting it in ${delayMs} ms`);
    publish('restart', slot, { cause: 'crash', delayMs });
    const replaces = slot.replaces;
    const timer = setTimeout(() => {
      if (shuttingDown === null) fork(replaces !== null && slots.has(replaces.id) ? replaces : null);
    }, delayMs);
    timer.unref();
  }

  function heartbeat(): void {
    const now = Date.now();
    for (const slot of slots.values()) {
      if (slot.state !== 'ready') continue;
      if (slot.awaitingSince === null) {
        slot.awaitingSince = now;
        slot.worker.send(['vial:ping', now]);
        continue;
      }
      const silentMs = now - slot.awaitingSince;
      if (silentMs < timeoutMs) {
        publish('missed-heartbeat', slot, { silentMs });
        continue;
      }
      restarts.unresponsive++;
      slot.leaving = 'unresponsive';
      const reportAgeMs = now - slot.statusAt;
      log.error({ workerId: slot.id, pid: slot.pid, silentMs, inFlight: slot.status.inFlight, reportAgeMs },
        `worker ${slot.id} (pid ${slot.pid}) has not answered heartbeats for ${silentMs} ms; killing it. ` +
          `In flight at its last report (${reportAgeMs} ms ago): ${slot.status.inFlight.join(', ') || 'nothing'}`);
      publish('unresponsive', slot, { silentMs, inFlight: slot.status.inFlight });
      slot.worker.process.kill('SIGKILL');
      slots.delete(slot.id);
      fork(slot.replaces !== null && slots.has(slot.replaces.id) ? slot.replaces : null);
    }
  }

  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    // A paused socket can still report a reset; without a listener that would throw in the primary.
    socket.on('error', () => socket.destroy());
    route(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0, backlog: options.backlog ?? 2048 }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  for (let i = 0; i < config.workers; i++) fork(null);
  const ticker = setInterval(heartbeat, intervalMs);

  async function runShutdown(reason: string): Promise<number> {
    log.info({ reason, workers: slots.size, gracefulTimeoutMs: config.gracefulTimeoutMs }, 'shutting down: draining workers');
    clearInterval(ticker);
    server.close();
    for (const s of pending.splice(0)) s.destroy();
    let unclean = 0;
    const exited = [...slots.values()].map((slot) => new Promise<void>((resolve) => {
      slot.worker.once('exit', (code: number | null) => {
        // Workers still starting are killed rather than drained: they hold no requests.
        if (slot.state !== 'starting' && code !== 0) unclean++;
        resolve();
      });
    }));
    for (const slot of [...slots.values()]) drain(slot, 'shutdown');
    let forced = false;
    await Promise.race([
      Promise.all(exited),
      new Promise<void>((resolve) => {
        forceShutdown = () => { forced = slots.size > 0; resolve(); };
      }),
    ]);
    for (const slot of slots.values()) slot.worker.process.kill('SIGKILL');
    for (const sig of signals) process.removeListener(sig, onSignal);
    const code = !forced && unclean === 0 ? 0 : 1;
    log.info({ code }, 'shutdown complete');
    exit(code);
    return code;
  }

  function onSignal(signal: NodeJS.Signals): void {
    if (shuttingDown !== null) {
      log.warn({ signal }, 'second signal during shutdown: killing workers now');
      forceShutdown?.();
      return;
    }
    void api.shutdown(signal);
  }
  for (const sig of signals) process.on(sig, onSignal);

  const api: Supervisor = {
    address: server.address() as AddressInfo,
    stats() {
      const now = Date.now();
      return {
        workers: [...slots.values()].map((s) => ({
          id: s.id, pid: s.pid, state: s.state, responsive: responsive(s, now), requests: s.status.requests,
          inFlight: s.status.inFlight, rssBytes: s.status.rssBytes, heap: { ...s.status.heap }, connectionsHanded: s.connectionsHanded,
        })),
        restarts: { ...restarts },
        connections: { ...connections, pending: pending.length },
      };
    },
    shutdown(reason = 'shutdown()') {
      shuttingDown ??= runShutdown(reason);
      return shuttingDown;
    },
  };
  return api;
}
