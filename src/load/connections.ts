/**
 * The connection cap (issue 13, class 8): one count of open connections per process, across every
 * server vial guards (HTTP, HTTPS/HTTP2) and every accept socket, since they all hand their
 * connections to the server's 'connection' event (acceptors.ts, the cluster worker). The cap is
 * `load.server.maxConnections`, by default derived from the open-file limit (options.ts).
 *
 * Over the cap a new connection is reset at once, before any byte is read, as Node's own
 * `server.maxConnections` does and as nginx does when a worker has no free connection. Not a 503:
 * answering takes a parser, a read of the request and for HTTPS a TLS handshake (the costliest
 * part), which are what the cap protects; a reset is what a balancer takes as "try another
 * backend", and it leaves no TIME_WAIT behind. Not a pause of accept() (Go's netutil.LimitListener
 * leaves them in the kernel's queue): Node cannot stop accepting without closing the listener.
 * Refusals are counted (`vial_connections_refused_total`, admin /load).
 */
import { readFileSync } from 'node:fs';
import type { Server as NetServer, Socket } from 'node:net';
import { FALLBACK_OPEN_FILE_LIMIT } from './options.ts';
import type { SystemLimits } from './options.ts';

export interface ConnectionStats {
  /** Connections open now in this process, on every guarded server. */
  readonly open: number;
  /** The lowest cap among the guarded servers; null when none is guarded or none has a cap. */
  readonly max: number | null;
  /** Connections refused at the cap since the process started. */
  readonly refused: number;
}

let open = 0;
let refused = 0;
/** Requests the open connections can carry at once: one per HTTP/1.1 connection, MAX_STREAMS per HTTP/2-capable one. */
let population = 0;
/**
 * tls.maxConcurrentStreams allows up to 1,000 (tls/index.ts). A connection to the HTTP/2 secure
 * server may carry that many requests at once (ALPN is not known when it is counted), so it counts
 * as that many: an overestimate, which only makes admission treat the population as unbounded.
 */
const MAX_STREAMS = 1000;
/** The cap of each guarded server (0: none). */
const caps = new Map<NetServer, number>();

export function connectionStats(): ConnectionStats {
  let max: number | null = null;
  for (const cap of caps.values()) if (cap > 0 && (max === null || cap < max)) max = cap;
  return { open, max, refused };
}

/**
 * The most requests the open connections can have outstanding at once (admission reads it per
 * decision under pressure: no object, unlike connectionStats). HTTP/1.1 carries one at a time.
 */
export function requestPopulation(): number {
  return population;
}

type ConnectionListener = (this: NetServer, socket: Socket) => void;

/**
 * Counts the connections of `server` in the process-wide count and refuses those over
 * `maxConnections` (0: counts only). Install after the server's own 'connection' listener exists
 * (http.createServer and http2.createSecureServer add it at construction): it is moved behind
 * the cap, so a refused socket never gets a parser or a TLS handshake. Idempotent.
 */
export function guardConnections(server: NetServer, maxConnections: number): void {
  if (caps.has(server)) return;
  caps.set(server, maxConnections);
  server.once('close', () => caps.delete(server));
  // Only the HTTP/2 secure server has updateSettings.
  const weight = typeof (server as { updateSettings?: unknown }).updateSettings === 'function' ? MAX_STREAMS : 1;
  const closed = (): void => {
    open--;
    population -= weight;
  };
  const inner = server.listeners('connection') as ConnectionListener[];
  server.removeAllListeners('connection');
  server.on('connection', function capConnections(this: NetServer, socket: Socket) {
    if (maxConnections > 0 && open >= maxConnections) {
      refused++;
      // A reset, not a FIN: see the header. The socket may already be gone (a client that left
      // while it was in transit to a cluster worker).
      if (!socket.destroyed) socket.resetAndDestroy();
      return;
    }
    open++;
    population += weight;
    socket.once('close', closed);
    for (const listener of inner) listener.call(this, socket);
  });
}

/** What the option defaults are derived from, read from this process (config resolution calls it once per app). */
export function systemLimits(): SystemLimits {
  return { openFileLimit: openFileLimit() ?? FALLBACK_OPEN_FILE_LIMIT };
}

/**
 * The soft RLIMIT_NOFILE of this process, read once from /proc/self/limits (Linux); undefined
 * where that file does not exist. Node raises its soft limit to the hard one at start-up, so this
 * is usually the hard limit (`ulimit -Hn` of the shell that started it).
 */
export function openFileLimit(): number | undefined {
  if (cached === null) {
    let text: string | undefined;
    try {
      text = readFileSync('/proc/self/limits', 'latin1');
    } catch {
      text = undefined;
    }
    cached = text === undefined ? undefined : parseOpenFileLimit(text);
  }
  return cached;
}

let cached: number | undefined | null = null;

/** The soft value of the "Max open files" row of a /proc/<pid>/limits text; undefined if absent or unlimited. */
export function parseOpenFileLimit(text: string): number | undefined {
  const row = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (row === null) return undefined;
  const soft = Number(row[1]);
  return Number.isSafeInteger(soft) && soft > 0 ? soft : undefined;
}
