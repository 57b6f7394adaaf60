import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { SupervisorOptions } from '../src/process/supervisor.ts';

/** What the fixture primary takes as JSON: the supervisor's options that survive serialisation. */
type FixtureOptions = Omit<SupervisorOptions, 'log' | 'exit' | 'exec'>;

// Node 24 by default; VIAL_TEST_NODE=/path/to/node runs the fixtures on another version (e.g. 22).
const NODE = process.env.VIAL_TEST_NODE ?? fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
const PRIMARY = fileURLToPath(new URL('./fixtures/process/primary.ts', import.meta.url));
const WAIT_MS = 20_000;

type Event = Record<string, unknown> & { kind: string; event?: string; pid?: number; msg?: string };
interface Reply { status: number; body: string }

const started: number[] = [];
after(() => {
  // Everything the fixtures started, by pid; most are gone already.
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already exited
    }
  }
});

async function startPrimary(options: FixtureOptions, readyWorkers = options.workers ?? 1) {
  const child = spawn(NODE, [PRIMARY, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
  started.push(child.pid!);
  const events: Event[] = [];
  let buffered = '';
  let waiters: (() => void)[] = [];
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      const e = JSON.parse(line) as Event;
      events.push(e);
      if (e.event === 'fork' && typeof e.pid === 'number') started.push(e.pid);
    }
    for (const w of waiters.splice(0)) w();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  async function waitFor(pred: (e: Event) => boolean, what: string): Promise<Event> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const found = events.find(pred);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; events: ${JSON.stringify(events.map((e) => e.event ?? e.msg))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  const listening = await waitFor((e) => e.kind === 'listening', 'the primary to listen');
  const port = listening.port as number;
  await waitFor(() => events.filter((e) => e.event === 'ready').length >= readyWorkers, `${readyWorkers} worker(s) ready`);

  function get(path: string): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.setTimeout(WAIT_MS, () => req.destroy(new Error(`no answer for ${path}`)));
      req.on('error', reject);
    });
  }
  async function stop(): Promise<number | null> {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
    const code = await exited;
    clearTimeout(t);
    waiters = [];
    return code;
  }
  return { events, port, get, waitFor, stop, child, exited };
}

const fast = { heartbeat: { intervalMs: 100, timeoutMs: 1500 }, restart: { initialDelayMs: 10 } } satisfies FixtureOptions;

describe('runSupervisor with real worker processes', () => {
  it('serves requests from both workers', async () => {
    const p = await startPrimary({ ...fast, workers: 2 });
    try {
      const forked = new Set(p.events.filter((e) => e.event === 'fork').map((e) => String(e.pid)));
      const replies = [];
      for (let i = 0; i < 10; i++) replies.push(await p.get('/'));
      assert.ok(replies.every((r) => r.status === 200));
      const served = new Set(replies.map((r) => r.body));
      assert.deepEqual(served, forked);
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });

  it('replaces a worker that exits and keeps serving', async () => {
    const p = await startPrimary({ ...fast, workers: 2 });
    try {
      await assert.rejects(p.get('/exit'));
      const crash = await p.waitFor((e) => e.kind === 'log' && e.level === 'error' && /died with exit code 3/.test(e.msg ?? ''), 'the crash log line');
      await p.waitFor((e) => e.event === 'ready' && e.pid !== crash.pid && e.workerId === 3, 'the replacement to be ready');
      const replies = await Promise.all(Array.from({ length: 6 }, () => p.get('/')));
      assert.ok(replies.every((r) => r.status === 200 && r.body !== String(crash.pid)));
      const last = p.events.findLast((e) => e.event === 'ready');
      assert.equal((last?.stats as { restarts: { crash: number } }).restarts.crash, 1);
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });

  it('recycles workers after their request budget without failing a request', async () => {
    const p = await startPrimary({ ...fast, workers: 2, recycle: { maxRequests: 5, maxRequestsJitter: 0 } });
    try {
      const replies: Reply[] = [];
      // Three clients in parallel, each sending one request at a time on a new connection.
      await Promise.all([0, 1, 2].map(async () => {
        for (let i = 0; i < 12; i++) replies.push(await p.get('/slow?ms=5'));
      }));
      assert.equal(replies.length, 36);
      assert.ok(replies.every((r) => r.status === 200), 'every request succeeded');
      await p.waitFor(() => p.events.filter((e) => e.event === 'exit' && e.cause === 'recycle-requests').length >= 2, 'both first workers to be recycled');
      const recycledExit = p.events.filter((e) => e.event === 'exit' && e.cause === 'recycle-requests');
      assert.ok(recycledExit.every((e) => e.code === 0), 'recycled workers drained and exited 0');
      const gone = new Set(recycledExit.map((e) => String(e.pid)));
      const later = await Promise.all(Array.from({ length: 4 }, () => p.get('/')));
      assert.ok(later.every((r) => r.status === 200 && !gone.has(r.body)), 'replacements serve what follows');
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });

  it('kills a blocked worker, names its in-flight route, and routes new connections elsewhere', async () => {
    const p = await startPrimary({ ...fast, workers: 2 });
    try {
      // Blocks well past the heartbeat timeout; ends on its own if the kill never came.
      const blocked = p.get('/block?ms=6000').then(() => 'answered', () => 'dropped');
      const missed = await p.waitFor((e) => e.event === 'missed-heartbeat', 'a missed heartbeat');
      const replies = await Promise.all(Array.from({ length: 6 }, () => p.get('/')));
      assert.ok(replies.every((r) => r.status === 200 && r.body !== String(missed.pid)), 'the blocked worker got nothing new');
      const killed = await p.waitFor((e) => e.event === 'unresponsive', 'the unresponsive kill');
      assert.equal(killed.pid, missed.pid);
      assert.ok((killed.inFlight as string[]).some((d) => d.startsWith('GET /block')), `in flight: ${JSON.stringify(killed.inFlight)}`);
      assert.ok(p.events.some((e) => e.kind === 'log' && e.level === 'error' && /GET \/block/.test(e.msg ?? '')), 'the log line names the route');
      assert.equal(await blocked, 'dropped');
      await p.waitFor((e) => e.event === 'ready' && e.workerId === 3, 'the replacement to be ready');
      assert.equal((await p.get('/')).status, 200);
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });

  it("keeps Node's slow-client timeouts in workers that never listen", async () => {
    const p = await startPrimary({ ...fast, workers: 1 });
    try {
      const socket = net.connect(p.port, '127.0.0.1');
      let raw = '';
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => (raw += d));
      socket.on('error', () => {});
      const closed = new Promise<void>((r) => socket.on('close', () => r()));
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n'); // headers never finished
      const t = setTimeout(() => socket.destroy(), WAIT_MS);
      await closed;
      clearTimeout(t);
      assert.match(raw, /^HTTP\/1\.1 408 /);
    } finally {
      assert.equal(await p.stop(), 0);
    }
  });

  it('closes idle keep-alive connections when a worker drains', async () => {
    const p = await startPrimary({ ...fast, workers: 1 });
    const socket = net.connect(p.port, '127.0.0.1');
    let raw = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (raw += d));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => socket.once('data', () => r()));
    p.child.kill('SIGTERM');
    await closed;
    assert.match(raw, /^HTTP\/1\.1 200 OK[^]*keep-alive/i);
    assert.equal(await p.exited, 0);
  });

  it('drains in-flight slow requests on SIGTERM and exits 0', async () => {
    const p = await startPrimary({ ...fast, workers: 2 });
    const slow = Array.from({ length: 4 }, () => p.get('/slow?ms=800'));
    // The fixture app prints a line when a slow request starts (workers share the primary's stdout).
    await p.waitFor(() => p.events.filter((e) => e.event === 'slow-start').length === 4, 'four slow requests in flight');
    p.child.kill('SIGTERM');
    const replies = await Promise.all(slow);
    assert.ok(replies.every((r) => r.status === 200));
    assert.equal(await p.exited, 0);
    assert.ok(p.events.some((e) => e.kind === 'exit' && e.code === 0));
  });

  it('exits 0 on SIGTERM while a worker is still starting, killing that one and draining the other', async () => {
    const p = await startPrimary({ ...fast, workers: 2, env: { FIXTURE_SLOW_READY_MS: '5000' } }, 1);
    const slow = p.get('/slow?ms=300');
    await p.waitFor((e) => e.event === 'slow-start', 'the slow request in flight');
    assert.equal(p.events.filter((e) => e.event === 'ready').length, 1, 'worker 2 is still starting');
    p.child.kill('SIGTERM');
    assert.equal((await slow).status, 200);
    assert.equal(await p.exited, 0);
    const exits = p.events.filter((e) => e.event === 'exit');
    assert.deepEqual(exits.map((e) => e.cause), ['shutdown', 'shutdown']);
  });
});
