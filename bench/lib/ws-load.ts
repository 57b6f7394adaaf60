/**
 * The WebSocket load generator as its own process (pinned to the load CPU by ws-run.ts):
 * `node bench/lib/ws-load.ts '<WsLoadSpec as JSON>'`. Uses the `ws` client.
 *
 *   echo  opens `connections` sockets, then each runs a ping-pong loop (send one small text
 *         message, wait for its echo, send the next) for `warmupMs` unmeasured and `durationMs`
 *         measured. Prints `VIAL_WS_MEASURE` when the measured window starts (the harness starts
 *         sampling the server's CPU there) and `VIAL_WS_REPORT {...}` at its end.
 *   idle  opens `connections` sockets that send nothing, prints `VIAL_WS_OPEN <n>`, and holds them
 *         until its stdin closes (the harness reads the server's RSS meanwhile), or `durationMs`.
 *
 * Bounded in count and time: the sockets are opened once, every loop stops at the end of its
 * window, and the process exits by itself.
 */
import { WebSocket } from 'ws';
import { percentile } from './stats.ts';

export interface WsLoadSpec {
  readonly mode: 'echo' | 'idle';
  /** `ws://127.0.0.1:<port>/echo` */
  readonly url: string;
  readonly connections: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Bytes of the text message each socket sends (echo). */
  readonly messageBytes: number;
}

export interface WsEchoReport {
  readonly connections: number;
  readonly messages: number;
  readonly durationSec: number;
  readonly messagesPerSec: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Sockets that failed to open or closed before the window ended. */
  readonly errors: number;
  /** Echoes whose body differed from what was sent: a server that does less must not win. */
  readonly mismatches: number;
}

/** Opens at most this many handshakes at once: 1,000 at once overflows the listen backlog (511). */
const OPEN_BATCH = 100;
const OPEN_TIMEOUT_MS = 10_000;

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: OPEN_TIMEOUT_MS });
    socket.once('open', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

async function openAll(url: string, count: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  for (let i = 0; i < count; i += OPEN_BATCH) {
    const batch = await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, count - i) }, () => open(url)));
    sockets.push(...batch);
  }
  return sockets;
}

async function echo(spec: WsLoadSpec): Promise<WsEchoReport> {
  const sockets = await openAll(spec.url, spec.connections);
  const message = 'x'.repeat(spec.messageBytes);
  let measuring = false;
  let stopped = false;
  let messages = 0;
  let errors = 0;
  let mismatches = 0;
  const latencies: number[] = [];
  for (const socket of sockets) {
    let sentAt = 0;
    const send = (): void => {
      sentAt = performance.now();
      socket.send(message);
    };
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (stopped) return;
      if (measuring) {
        latencies.push(performance.now() - sentAt);
        messages += 1;
        if (isBinary || data.length !== message.length) mismatches += 1;
      }
      send();
    });
    socket.on('error', () => void 0);
    socket.once('close', () => {
      if (!stopped) errors += 1;
    });
    send();
  }
  await new Promise((resolve) => setTimeout(resolve, spec.warmupMs));
  measuring = true;
  process.stdout.write('VIAL_WS_MEASURE\n');
  const startedAt = performance.now();
  await new Promise((resolve) => setTimeout(resolve, spec.durationMs));
  stopped = true;
  const durationSec = (performance.now() - startedAt) / 1000;
  for (const socket of sockets) socket.terminate();
  return {
    connections: sockets.length,
    messages,
    durationSec,
    messagesPerSec: messages / durationSec,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.reduce((a, b) => Math.max(a, b), 0) },
    errors,
    mismatches,
  };
}

async function idle(spec: WsLoadSpec): Promise<void> {
  const sockets = await openAll(spec.url, spec.connections);
  process.stdout.write(`VIAL_WS_OPEN ${sockets.length}\n`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, spec.durationMs);
    process.stdin.once('end', () => {
      clearTimeout(timer);
      resolve();
    });
    process.stdin.resume();
  });
  for (const socket of sockets) socket.terminate();
}

const spec = JSON.parse(process.argv[2] ?? '{}') as WsLoadSpec;
if (spec.mode === 'echo') process.stdout.write(`VIAL_WS_REPORT ${JSON.stringify(await echo(spec))}\n`);
else await idle(spec);
// Intentionally explicit: a socket still closing must not keep the generator alive.
process.exit(0);
