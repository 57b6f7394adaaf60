/**
 * Load protection through the real app: admission, queue, bulkheads, deadlines, disconnects,
 * pressure, penalties and the watchdog, driven through the test client and a real server.
 * Handlers wait on promises the test resolves, so no test depends on how fast the machine is.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import type { Vial } from '../src/index.ts';
import type { Context } from '../src/context.ts';
import { both, connect, makeApp } from './helpers/both.ts';
import type { ErrorBody, Reply } from './helpers/both.ts';
import { holdsWithin, waitUntil } from './helpers/wait.ts';

/** A promise the test resolves by hand: handlers park on it. */
function latch(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

function assertRefused(res: Reply, reason: string): void {
  assert.equal(res.status, 503);
  assert.ok(res.header('retry-after') !== undefined && Number(res.header('retry-after')) >= 1, 'Retry-After is set');
  const body = res.json<ErrorBody>();
  assert.equal(body.error.code, 'VIAL_ERR_OVERLOADED');
  assert.match(body.error.message, new RegExp(`\\(${reason}\\)`));
}

/** An app with one parking route (`/held`) and one plain route (`/other`). */
function parkingApp(admission: Record<string, number>, held: { concurrency?: number; maxQueue?: number } = {}): { app: Vial; gate: ReturnType<typeof latch>; started: string[] } {
  const app = makeApp({ load: { admission: { maxQueueWaitMs: 10_000, ...admission } } });
  const gate = latch();
  const started: string[] = [];
  app.get('/held', held, async (ctx) => {
    started.push(ctx.query.get('n') ?? '');
    await gate.promise;
    return 'held';
  });
  app.get('/other', () => 'other');
  return { app, gate, started };
}

both('admission through the app', (mode) => {
  it('answers 503 with Retry-After once in-flight and queue are full, and recovers when load drops', async (t) => {
    const { app, gate } = parkingApp({ maxInFlight: 2, maxQueue: 2 }, { concurrency: 2, maxQueue: 2 });
    const conn = await connect(t, mode, app);
    const parked = [1, 2, 3, 4].map((n) => conn.get(`/held?n=${n}`));
    await waitUntil('two run and two wait', () => app.load.admission.inFlight === 2 && app.load.admission.queued === 2);
    assertRefused(await conn.get('/held?n=5'), 'queue-full');
    gate.open();
    for (const res of await Promise.all(parked)) assert.equal(res.status, 200);
    assert.equal((await conn.get('/held?n=6')).status, 200);
    assert.equal(app.load.admission.snapshot().shed['queue-full'], 1);
  });

  it('serves a queued request once a slot frees up', async (t) => {
    const { app, gate, started } = parkingApp({ maxInFlight: 1, maxQueue: 1 }, { concurrency: 1, maxQueue: 1 });
    const conn = await connect(t, mode, app);
    const first = conn.get('/held?n=first');
    // Two connections are not ordered (the server listens on several sockets): send the second
    // only once the first runs.
    await waitUntil('the first request runs', () => app.load.admission.inFlight === 1);
    const second = conn.get('/held?n=second');
    await waitUntil('the second request is queued', () => app.load.admission.queued === 1);
    assert.deepEqual(started, ['first'], 'the queued handler has not started');
    gate.open();
    assert.equal((await first).text, 'held');
    assert.equal((await second).status, 200);
    assert.deepEqual(started, ['first', 'second']);
  });

  it('refuses a request that waited longer than maxQueueWaitMs with queue-timeout', async (t) => {
    const { app, gate } = parkingApp({ maxInFlight: 1, maxQueue: 1, maxQueueWaitMs: 50 }, { concurrency: 1, maxQueue: 1 });
    const conn = await connect(t, mode, app);
    const first = conn.get('/held');
    await waitUntil('the first request runs', () => app.load.admission.inFlight === 1);
    assertRefused(await conn.get('/held'), 'queue-timeout');
    gate.open();
    assert.equal((await first).status, 200);
  });

  it('refuses a flooded route at its bulkhead while another route still answers', async (t) => {
    const { app, gate } = parkingApp({ maxInFlight: 10, maxQueue: 10 }, { concurrency: 2, maxQueue: 0 });
    const conn = await connect(t, mode, app);
    const parked = [conn.get('/held'), conn.get('/held')];
    await waitUntil('the route is at its concurrency', () => app.load.admission.inFlight === 2);
    assertRefused(await conn.get('/held'), 'route-full');
    assert.equal((await conn.get('/other')).text, 'other');
    gate.open();
    for (const res of await Promise.all(parked)) assert.equal(res.status, 200);
  });

  it('limits a penalised route to one request at a time, with no queue, while others answer', async (t) => {
    const { app, gate } = parkingApp({ maxInFlight: 10, maxQueue: 10 });
    const conn = await connect(t, mode, app);
    await app.start();
    app.load.admission.penalize('GET /held', 60_000);
    const first = conn.get('/held');
    await waitUntil('one request runs', () => app.load.admission.inFlight === 1);
    const second = await conn.get('/held');
    assertRefused(second, 'route-blocking');
    assert.ok(Number(second.header('retry-after')) > 1, 'Retry-After covers the penalty');
    assert.equal((await conn.get('/other')).status, 200);
    gate.open();
    assert.equal((await first).status, 200);
  });

  it('sheds new requests under event-loop pressure, never drains to zero, and admits again after recovery', async (t) => {
    const app = makeApp({ load: { pressure: { enabled: true } } });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    app.get('/', () => 'ok');
    app.get('/held', async () => {
      await held;
      return 'held';
    });
    const conn = await connect(t, mode, app);
    const { pressure, admission } = app.load;
    // Utilisation alone is not overload while the loop still answers quickly.
    for (let i = 0; i < 5; i++) pressure.observe({ delayP99Ms: 10, utilization: 1 });
    assert.equal((await conn.get('/')).status, 200);
    // One request in flight when the overload begins: that level is held, with room for one more
    // beside it (a synchronous request always fits: a slow request alone must not refuse all).
    const first = conn.get('/held');
    while (admission.inFlight === 0) await new Promise((resolve) => setImmediate(resolve));
    for (let i = 0; i < 5; i++) pressure.observe({ delayP99Ms: 500, utilization: 1 });
    assert.equal((await conn.get('/')).status, 200);
    const second = conn.get('/held');
    while (admission.inFlight < 2) await new Promise((resolve) => setImmediate(resolve));
    assertRefused(await conn.get('/'), 'pressure');
    release();
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
    // Still overloaded, but nothing in flight: refusing everything would never let the state clear.
    assert.equal(pressure.overloaded, true);
    assert.equal((await conn.get('/')).status, 200);
    for (let i = 0; i < 20; i++) pressure.observe({ delayP99Ms: 1, utilization: 0.1 });
    assert.equal((await conn.get('/')).status, 200);
    assert.ok(admission.snapshot().shed.pressure >= 1);
  });
});

/**
 * The deadline scan runs on an unref'd timer, and the test client holds no socket: with a
 * handler that only waits for its signal, nothing keeps Node 22's event loop alive until the
 * deadline fires. A server would; this ref'd timer stands in for it.
 */
function keepLoopAlive(t: { after: (fn: () => void) => void }): void {
  const timer = setInterval(() => {}, 1000);
  t.after(() => clearInterval(timer));
}

both('deadlines through the app', (mode) => {
  it('answers 504 VIAL_ERR_DEADLINE and aborts ctx.signal when a route passes its timeoutMs', async (t) => {
    keepLoopAlive(t);
    const app = makeApp();
    let observed: unknown;
    app.get('/slow', { timeoutMs: 100 }, async (ctx: Context) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      observed = ctx.signal.reason;
      return 'too late';
    });
    const conn = await connect(t, mode, app);
    const res = await conn.get('/slow');
    assert.equal(res.status, 504);
    assert.equal(res.json<ErrorBody>().error.code, 'VIAL_ERR_DEADLINE');
    await waitUntil('the handler saw the abort', () => observed !== undefined);
    assert.equal((observed as { code?: string }).code, 'VIAL_ERR_DEADLINE');
    await waitUntil('the slot is released', () => app.load.admission.inFlight === 0);
  });

  it('counts handlers still running after their deadline until they finish', async (t) => {
    keepLoopAlive(t);
    const app = makeApp();
    const gate = latch();
    let finished = false;
    app.get('/stubborn', { timeoutMs: 100 }, async () => {
      await gate.promise; // intentionally ignores ctx.signal
      finished = true;
      return 'done anyway';
    });
    const conn = await connect(t, mode, app);
    const stats = (): { lateRunning: number; lateFinished: number } => app.load.deadlines.stats();
    assert.equal((await conn.get('/stubborn')).status, 504);
    assert.equal(stats().lateRunning, 1);
    gate.open();
    await waitUntil('the late handler is counted as finished', () => stats().lateFinished === 1);
    assert.equal(stats().lateRunning, 0);
    assert.ok(finished);
  });
});

describe('client disconnect (real server)', () => {
  it('aborts ctx.signal and frees the admission slot when the client leaves mid-request', async (t) => {
    const app = makeApp({ load: { admission: { maxInFlight: 1, maxQueue: 0 } } });
    let reason: unknown;
    app.get('/hang', async (ctx: Context) => {
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      reason = ctx.signal.reason;
    });
    app.get('/ok', () => 'ok');
    const conn = await connect(t, 'server', app);
    const agent = new Agent({ keepAlive: false });
    t.after(() => agent.destroy());
    const req = request({ host: '127.0.0.1', port: conn.port, path: '/hang', agent });
    req.on('error', () => {}); // the socket is destroyed on purpose
    req.end();
    await waitUntil('the request is admitted', () => app.load.admission.inFlight === 1);
    req.destroy();
    await waitUntil('the handler saw the abort', () => reason !== undefined);
    assert.equal((reason as { code?: string }).code, 'VIAL_ERR_CLIENT_GONE');
    await waitUntil('the slot is released', () => app.load.admission.inFlight === 0);
    assert.equal((await conn.get('/ok')).status, 200);
  });
});

describe('watchdog through the app (real server)', () => {
  it('reports a route that blocks the event loop with its key and penalises it', async (t) => {
    const app = makeApp({ watchdog: { enabled: true, thresholdMs: 100 } });
    app.get('/spin', () => {
      const until = Date.now() + 400;
      while (Date.now() < until); // intentionally blocks the loop
      return 'spun';
    });
    app.get('/cheap', () => 'ok');
    const conn = await connect(t, 'server', app); // listen() starts the monitors
    const before = app.monitors.watchdog;
    assert.equal(before, undefined, 'an idle server pays for no watchdog thread');
    assert.equal((await conn.get('/cheap')).text, 'ok');
    const watchdog = app.monitors.watchdog;
    assert.ok(watchdog !== undefined, 'the first request starts the watchdog');
    await app.monitors.startWatchdog();
    // The watchdog thread starts asynchronously: a block that begins before it watches may be
    // caught late (after the loop moved on) or not at all, so block again until it names the route.
    const named = (): boolean => watchdog.recentBlocks().some((b) => b.route === 'GET /spin');
    for (let attempt = 0; attempt < 5 && !named(); attempt++) {
      assert.equal((await conn.get('/spin')).text, 'spun');
      await holdsWithin(named, 2000);
    }
    assert.ok(named(), `a block names GET /spin; got ${JSON.stringify(watchdog.recentBlocks().map((b) => b.route))}`);
    const route = app.load.admission.snapshot().routes.find((r) => r.route === 'GET /spin');
    assert.ok(route !== undefined && route.penalizedForMs > 0, 'the route is penalised');
  });
});
