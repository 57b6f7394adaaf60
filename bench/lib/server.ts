/**
 * Starting a bench server as a child process pinned to the server CPU, waiting until it answers, and
 * stopping it by pid. Every started server is tracked so the harness can stop them all if it is
 * interrupted or crashes.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { isAbsolute, join } from 'node:path';
import { VialError } from '../../src/errors.ts';
import { pinned } from './proc.ts';
import type { LoadSpec, Pinning, SystemSpec } from './types.ts';

export interface StartedServer {
  readonly system: SystemSpec;
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The last few KiB of the server's stdout and stderr, for error messages. */
  output(): string;
  /** False once the process has exited (a crash during a run makes its numbers meaningless). */
  alive(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  readonly benchDir: string;
  readonly pinning: Pinning;
  /** When set, the server runs with `--cpu-prof` and writes its profile here under `profileName`. */
  readonly cpuProfDir?: string;
  readonly profileName?: string;
  readonly readyTimeoutMs?: number;
}

const live = new Set<StartedServer>();
const TAIL_BYTES = 4096;

export async function startServer(system: SystemSpec, options: StartOptions): Promise<StartedServer> {
  const script = isAbsolute(system.server) ? system.server : join(options.benchDir, system.server);
  const nodeArgs = [...(system.nodeArgs ?? [])];
  if (options.cpuProfDir !== undefined) {
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`, `--cpu-prof-name=${options.profileName ?? 'server.cpuprofile'}`);
  }
  const [file, args] = pinned(options.pinning, options.pinning.serverCpu, process.execPath, [...nodeArgs, script, '0', ...(system.args ?? [])]);
  const child = spawn(file, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    // Production requires the hosts an app serves (allowedHosts); the load generators use 127.0.0.1.
    env: { ...process.env, NODE_ENV: 'production', VIAL_ALLOWED_HOSTS: '127.0.0.1,localhost', ...system.env },
  });
  let tail = '';
  const keep = (chunk: Buffer): void => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
  };
  // Both pipes are always drained: a server that logs per request must never block on a full pipe.
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  // 'close', not 'exit': it fires after stdout/stderr are drained, so output() holds the last words.
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const stop = stopper(child, exited);
  const server = { system, pid: child.pid ?? -1, port: 0, url: '', output: () => tail, alive: () => child.exitCode === null && child.signalCode === null, stop };
  live.add(server);
  void exited.then(() => live.delete(server));
  try {
    const port = await readyPort(child, () => tail, options.readyTimeoutMs ?? 20_000);
    return Object.assign(server, { port, url: `http://127.0.0.1:${port}` });
  } catch (error) {
    await stop();
    throw new VialError('VIAL_ERR_BENCH_SERVER', `bench: ${system.name} (${script}) ${(error as Error).message}\n--- its output ---\n${tail}`, { cause: error });
  }
}

function readyPort(child: ChildProcess, output: () => string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (fn: () => void): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      fn();
    };
    const onData = (): void => {
      const match = /^ready (\d+)\r?\n/m.exec(output()); // whole line only: a chunk may end mid-number
      if (match !== null) done(() => resolve(Number(match[1])));
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(() => reject(new Error(`exited (code ${String(code)}, signal ${String(signal)}) before printing "ready <port>".`)));
    const onError = (error: Error): void => done(() => reject(error));
    const timer = setTimeout(
      () => done(() => reject(new Error(`did not print "ready <port>" within ${timeoutMs} ms.`))),
      timeoutMs,
    );
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function stopper(child: ChildProcess, exited: Promise<void>): (graceMs?: number) => Promise<void> {
  let stopping: Promise<void> | undefined;
  return (graceMs = 5000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      const pid = child.pid;
      process.kill(pid, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
      if ((await Promise.race([exited, late])) === 'late' && child.exitCode === null) process.kill(pid, 'SIGKILL');
      clearTimeout(timer);
      await exited;
    })();
    return stopping;
  };
}

/** Stops every server this process started and has not stopped yet (on Ctrl-C or a crash). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...live].map((s) => s.stop(1000)));
}

export interface ProbeResult {
  readonly status: number;
  readonly body: string;
}

/**
 * Sends the load's request once (on its own connection, closed after) and checks `load.expect`, so a
 * system answering 404 or a different body cannot win the benchmark by doing less.
 */
export async function probe(url: string, load: LoadSpec, timeoutMs = 5000): Promise<ProbeResult> {
  const result = await new Promise<ProbeResult>((resolve, reject) => {
    const req = request(
      `${url}${load.path}`,
      { method: load.method ?? 'GET', headers: { ...load.headers, connection: 'close' }, agent: false, signal: AbortSignal.timeout(timeoutMs) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(load.body);
  });
  const expect = load.expect;
  if (expect !== undefined) {
    const wrongStatus = expect.status !== undefined && result.status !== expect.status;
    const wrongBody = expect.body !== undefined && result.body !== expect.body;
    if (wrongStatus || wrongBody) {
      throw new VialError(
        'VIAL_ERR_BENCH_MISMATCH',
        `bench: ${url}${load.path} answered ${result.status} ${JSON.stringify(result.body.slice(0, 200))}, ` +
          `expected ${String(expect.status ?? 'any status')} ${expect.body === undefined ? '' : JSON.stringify(expect.body)}. ` +
          'Fix the bench server so every system does the same work.',
      );
    }
  }
  return result;
}
