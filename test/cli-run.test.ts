/**
 * `vial run`, `vial routes` and `--help` as real processes: the Node 24 binary runs
 * src/cli/main.ts on fixture apps, on free ports, and every process is killed by pid afterwards.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Agent } from 'node:http';
import { fileURLToPath } from 'node:url';
import { getText } from './helpers/net.ts';

const NODE = process.execPath;
const MAIN = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
const APP = fileURLToPath(new URL('./fixtures/cli/app.ts', import.meta.url));
const BROKEN = fileURLToPath(new URL('./fixtures/cli/broken.ts', import.meta.url));
const WAIT_MS = 20_000;

interface Vial {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** Resolves with the first output line (stdout or stderr) matching, waiting at most WAIT_MS. */
  waitFor(pattern: RegExp, count?: number): Promise<string>;
}

const started: ChildProcess[] = [];
after(() => {
  // Killing the primary's pid is enough: workers exit when their IPC channel closes.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function vial(args: string[], env: Record<string, string> = {}): Vial {
  const base: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'development' };
  delete base['VIAL_WORKERS'];
  const child = spawn(NODE, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...base, ...env } });
  started.push(child);
  const lines: string[] = [];
  let waiters: (() => void)[] = [];
  const feed = (stream: NodeJS.ReadableStream): void => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
      for (const w of waiters) w();
    });
  };
  feed(child.stdout);
  feed(child.stderr);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(pattern, count = 1) {
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const hits = lines.filter((l) => pattern.test(l));
          if (hits.length >= count) {
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== check);
            resolve(hits[count - 1]!);
          }
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(new Error(`no output matching ${pattern} within ${WAIT_MS} ms; got:\n${lines.join('\n')}`));
        }, WAIT_MS);
        waiters.push(check);
        check();
      });
    },
  };
}

async function portOf(v: Vial): Promise<number> {
  const line = await v.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
  return Number(/127\.0\.0\.1:(\d+)/.exec(line)![1]);
}

/** Exit code within WAIT_MS (a hang fails the test instead of the suite). */
function exitCode(v: Vial): Promise<number | null> {
  return Promise.race([
    v.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${WAIT_MS} ms:\n${v.lines.join('\n')}`)), WAIT_MS).unref()),
  ]);
}

const agent = new Agent({ keepAlive: false });
after(() => agent.destroy());

function get(port: number, path: string): Promise<{ status: number; text: string }> {
  return getText(port, path, agent);
}

const REFUSED = new Set<unknown>(['ECONNREFUSED', 'ECONNRESET', 503]);

/**
 * After the signal, new requests until one is not served: a request that raced in before the
 * signal was handled may still get 200. The first unserved one must be a refused or reset
 * connection (the listener is closed) or a 503.
 */
async function firstUnserved(port: number): Promise<unknown> {
  for (let i = 0; i < 200; i++) {
    const outcome = await get(port, '/pid').then((r) => r.status, (error: NodeJS.ErrnoException) => error.code);
    if (outcome !== 200) return outcome;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return 200;
}

describe('vial help and routes', () => {
  it('prints the usage for `vial --help` and exits 0', async () => {
    const v = vial(['--help']);
    assert.equal(await exitCode(v), 0);
    assert.match(v.lines.join('\n'), /Commands:/);
  });

  it('prints the run options for `vial run --help` and exits 0', async () => {
    const v = vial(['run', '--help']);
    assert.equal(await exitCode(v), 0);
    const text = v.lines.join('\n');
    for (const flag of ['--workers', '--max-requests', '--max-requests-jitter', '--max-rss-mb', '--graceful-timeout-ms']) assert.ok(text.includes(flag), flag);
    assert.match(text, /runs once per\s+worker/);
  });

  it('prints the route table for `vial routes`', async () => {
    const v = vial(['routes', APP]);
    assert.equal(await exitCode(v), 0);
    const rows = v.lines.filter((l) => /^GET\s/.test(l)).map((l) => l.split(/\s+/)[1]);
    assert.deepEqual(rows.sort(), ['/crash', '/pid', '/slow']);
  });

  it('refuses a bad --workers value with exit code 1', async () => {
    const v = vial(['run', APP, '--workers', 'many']);
    assert.equal(await exitCode(v), 1);
    assert.match(v.lines.join('\n'), /--workers must be an integer/);
  });
});

describe('vial run, one process', () => {
  it('serves the app from its own pid', async () => {
    const v = vial(['run', APP, '--port', '0']);
    const port = await portOf(v);
    const res = await get(port, '/pid');
    assert.equal(res.status, 200);
    assert.equal(res.text, String(v.child.pid));
    v.child.kill('SIGTERM');
    assert.equal(await exitCode(v), 0);
  });

  it('on SIGTERM finishes every in-flight request, refuses new ones, runs shutdown hooks and exits 0', async () => {
    const v = vial(['run', APP, '--port', '0']);
    const port = await portOf(v);
    const slow = [1, 2, 3].map(() => get(port, '/slow?ms=1500'));
    await v.waitFor(/^slow-start/, 3);
    v.child.kill('SIGTERM');
    const late = await firstUnserved(port);
    assert.ok(REFUSED.has(late), `new request after SIGTERM got ${String(late)}`);
    for (const res of await Promise.all(slow)) {
      assert.equal(res.status, 200);
      assert.equal(res.text, `slow done ${v.child.pid}`);
    }
    assert.equal(await exitCode(v), 0);
    assert.ok(v.lines.includes(`shutdown-hook ${v.child.pid}`), 'the shutdown hook ran');
  });

  it('exits 1 when the app module fails to load', async () => {
    const v = vial(['run', BROKEN, '--port', '0']);
    assert.equal(await exitCode(v), 1);
    assert.match(v.lines.join('\n'), /fails on import/);
  });
});

describe('vial run --workers 2', () => {
  it('exits 1 when no worker can load the app', async () => {
    const v = vial(['run', BROKEN, '--port', '0', '--workers', '2']);
    assert.equal(await exitCode(v), 1);
    assert.match(v.lines.join('\n'), /could not start: [\s\S]*broken fixture/);
  });

  const v = vial(['run', APP, '--port', '0'], { VIAL_WORKERS: '2' });
  const seen = new Set<string>();

  /** Requests /pid until `want` distinct worker pids (other than `exclude`) answered, bounded. */
  async function pidsUntil(port: number, want: (pids: Set<string>) => boolean): Promise<Set<string>> {
    const pids = new Set<string>();
    for (let i = 0; i < 200 && !want(pids); i++) {
      const res = await get(port, '/pid');
      assert.equal(res.status, 200);
      pids.add(res.text);
      seen.add(res.text);
      if (i > 20) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return pids;
  }

  it('serves from two different worker pids, neither of them the primary (VIAL_WORKERS=2)', async () => {
    const port = await portOf(v);
    const pids = await pidsUntil(port, (p) => p.size >= 2);
    assert.equal(pids.size, 2);
    assert.ok(!pids.has(String(v.child.pid)));
  });

  it('replaces a worker that exits and keeps answering meanwhile', async () => {
    const port = await portOf(v);
    const crashed = await get(port, '/crash').then(() => 'answered', () => 'connection dropped');
    assert.equal(crashed, 'connection dropped');
    await v.waitFor(/died with exit code 1/);
    assert.equal((await get(port, '/pid')).status, 200);
    const before = new Set(seen);
    const pids = await pidsUntil(port, (p) => [...p].some((pid) => !before.has(pid)));
    assert.ok([...pids].some((pid) => !before.has(pid)), 'a new worker pid answers');
  });

  it('on SIGTERM drains the workers, finishes in-flight requests and exits 0', async () => {
    const port = await portOf(v);
    const slow = get(port, '/slow?ms=1500');
    const startedLine = await v.waitFor(/^slow-start/);
    v.child.kill('SIGTERM');
    await v.waitFor(/draining workers/);
    const late = await firstUnserved(port);
    assert.ok(REFUSED.has(late), `new request after SIGTERM got ${String(late)}`);
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(res.text, `slow done ${startedLine.split(' ')[1]!}`);
    assert.equal(await exitCode(v), 0);
    assert.ok(v.lines.some((l) => l.startsWith('shutdown-hook ')), 'the workers ran their shutdown hooks');
  });
});
