/**
 * Listening with more than one accept socket, so a busy process takes in new connections fast.
 *
 * Node accepts one connection per listening socket per event-loop turn (libuv 1.45+,
 * libuv/libuv#3696). When turns are long, that is the bottleneck: in `bench overload` a process
 * with 15-50 ms turns took in 15-30 connections a second while ~900 waited in the kernel's accept
 * queue for seconds, where neither admission nor the client can see why. On Linux, `reusePort`
 * lets several sockets in this process listen on the same port; the kernel spreads incoming
 * connections over their queues and each socket accepts one per turn, so N sockets accept N per
 * turn. Each extra socket is a plain net.Server that hands its connections to the http.Server
 * (`emit('connection')`, Node's documented way to inject one), with the socket options
 * http.createServer would have set.
 *
 * `reusePort` would also let a second process bind the same port and silently take half the
 * traffic (an app started twice). A probe bind without it comes first: the port must be free,
 * exactly as a plain listen() requires, and while vial holds it any later bind without
 * `reusePort` fails with EADDRINUSE as usual, a second vial included. What remains: two processes
 * started within the same instant can both pass the probe, and a process of the same user that
 * binds with SO_REUSEPORT on purpose can join.
 */
import cluster from 'node:cluster';
import type { Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { Server as NetServer } from 'node:net';

export interface AcceptorListenOptions {
  readonly port: number;
  readonly host: string;
  readonly backlog: number;
  /** Listening sockets in all, the server's own included; 1 is a plain listen(). */
  readonly acceptors: number;
}

const extras = new WeakMap<Server, NetServer[]>();
/** Ports vial's servers listen on in this process, and whether on IPv6 (accept-queue.ts reads their queues). */
const ports = new Map<Server, { readonly port: number; readonly ipv6: boolean }>();

/**
 * Whether extra accept sockets work here: SO_REUSEPORT that balances, which is Linux's, and not in
 * a node:cluster worker (PM2's cluster mode, for one), whose listen() goes through the primary's
 * shared handle: there the probe and the SO_REUSEPORT binds of a second worker clash (EADDRINUSE).
 */
export function acceptorsSupported(): boolean {
  return process.platform === 'linux' && !cluster.isWorker;
}

/** What listenWithAcceptors ended up with. */
export interface AcceptorsResult {
  /** Sockets listening, the server's own included. */
  readonly sockets: number;
  /** Why there are fewer than asked for (SO_REUSEPORT refused by this kernel or sandbox), if so. */
  readonly degraded?: string;
}

type Bind = (server: NetServer, options: ListenSpec) => Promise<void>;

interface ListenSpec {
  port: number;
  host: string;
  backlog: number;
  reusePort?: boolean;
}

/** Errors a plain listen() would give too: they are the caller's to see, not a reason to degrade. */
const REAL_LISTEN_ERRORS = new Set(['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL']);

/**
 * Listens `server` on port and host with `acceptors` sockets (one where unsupported). Where this
 * kernel or sandbox refuses SO_REUSEPORT, it listens with what it could get, down to one plain
 * socket, and says why in `degraded`: a protection must never be the reason a service cannot start.
 * `bind` is injectable for tests.
 */
export async function listenWithAcceptors(server: Server, options: AcceptorListenOptions, bind: Bind = listenOn): Promise<AcceptorsResult> {
  const { host, backlog } = options;
  const count = acceptorsSupported() ? options.acceptors : 1;
  if (count <= 1) {
    await bind(server, { port: options.port, host, backlog });
    remember(server);
    return { sockets: 1 };
  }
  if (options.port !== 0) await probe(options.port, host);
  try {
    await bind(server, { port: options.port, host, backlog, reusePort: true });
  } catch (error) {
    if (REAL_LISTEN_ERRORS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    await bind(server, { port: options.port, host, backlog });
    remember(server);
    return { sockets: 1, degraded: `listening with one socket: SO_REUSEPORT failed (${describe(error)})` };
  }
  // The address the server got, not the host name again: a name with several addresses could
  // put the extra sockets on another one.
  const { port, address } = server.address() as { port: number; address: string };
  const own: NetServer[] = [];
  extras.set(server, own);
  let degraded: string | undefined;
  for (let i = 1; i < count; i++) {
    // The options http.createServer gives its own net.Server (allowHalfOpen is what http expects).
    const extra = createNetServer({ allowHalfOpen: true, noDelay: true }, (socket) => server.emit('connection', socket));
    try {
      await bind(extra, { port, host: address, backlog, reusePort: true });
    } catch (error) {
      degraded = `listening with ${own.length + 1} of ${count} sockets: another SO_REUSEPORT socket failed (${describe(error)})`;
      break;
    }
    // An accept error on an extra socket is one on the server: same listeners, same outcome.
    extra.on('error', (error) => server.emit('error', error));
    own.push(extra);
  }
  // `server.close()` is how Node code stops listening: it must stop the extra sockets too, or they
  // would go on feeding connections to a server its owner has closed. And it calls back only once
  // every connection is gone, which net.Server counts on the socket that accepted it: the
  // callback waits for the extra sockets' connections as well as the server's own.
  const ownClose = server.close.bind(server);
  server.close = (callback?: (error?: Error) => void): Server => {
    const extrasClosed = closeAcceptors(server);
    return ownClose((error) => {
      void extrasClosed.then(() => callback?.(error));
    });
  };
  remember(server);
  return degraded === undefined ? { sockets: own.length + 1 } : { sockets: own.length + 1, degraded };
}

function describe(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ?? (error instanceof Error ? error.message : String(error));
}

function remember(server: Server): void {
  const address = server.address() as { port: number; family: string };
  ports.set(server, { port: address.port, ipv6: address.family === 'IPv6' });
  server.once('close', () => ports.delete(server));
}

/**
 * Stops the extra accept sockets of `server` (a no-op without any). Call it wherever the server
 * stops accepting; their connections belong to the http.Server and close with it. Settles once
 * those connections have ended.
 */
export function closeAcceptors(server: Server): Promise<void> {
  const own = extras.get(server);
  if (own === undefined) return Promise.resolve();
  extras.delete(server);
  // Each settles once the connections it accepted have ended (the http.Server closes idle ones).
  return Promise.all(own.map((extra) => new Promise<void>((resolve) => extra.close(() => resolve())))).then(() => undefined);
}

/** The ports vial's servers in this process listen on now. */
export function listeningPorts(): ReadonlySet<number> {
  return new Set([...ports.values()].map((p) => p.port));
}

/** Whether any of them listens on an IPv6 address (`::` included, which takes IPv4 too): only then does /proc/net/tcp6 list it. */
export function listensOnIPv6(): boolean {
  for (const p of ports.values()) if (p.ipv6) return true;
  return false;
}

/** Sockets `server` listens with now, its own included (for tests and diagnostics). */
export function acceptorCount(server: Server): number {
  return 1 + (extras.get(server)?.length ?? 0);
}

function listenOn(server: NetServer, options: ListenSpec): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Binds and releases `port` without reusePort: EADDRINUSE if anything holds it. */
async function probe(port: number, host: string): Promise<void> {
  const probe = createNetServer();
  await listenOn(probe, { port, host, backlog: 1 });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
