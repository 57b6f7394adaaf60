/**
 * The doctor's checks as test helpers in vial/testing (issue 14): the race check finds a
 * module-level user set before an await and passes on ctx.g, in-process and over a real server;
 * the growth check FAILs an unbounded Map, PASSes a BoundedCache filled past its bound, and
 * catches a small leak (only the key string, kept per key), and a run disturbed by memory released
 * elsewhere in the process is repeated, never judged. Memory is this
 * process's heap right after a full GC, so the apps run in-process; verdicts, never timings, are
 * asserted.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from 'node:assert';
import { setTimeout as sleep } from 'node:timers/promises';
import { BoundedCache, VialError, g, startAdmin } from '../src/index.ts';
import type { Vial } from '../src/index.ts';
import * as testing from '../src/testing.ts';
import type { GrowthMemory } from '../src/testing.ts';
import { adminHeapAfterGc, assertNoGrowth, assertNoRace, checkGrowth, checkRace } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';

it('vial/testing exports exactly its public API', () => {
  assert.deepEqual(Object.keys(testing).sort(), [
    'TestClient', 'TestWebSocket', 'WebSocketRefusedError', 'adminHeapAfterGc', 'assertNoGrowth', 'assertNoRace', 'checkGrowth', 'checkRace',
    'encodeTestRequest', 'openWebSocket', 'testClient',
  ].sort());
});

/** Failure 4 and its fix side by side: a module-level user read after an await, and ctx.g. */
function raceApp(): Vial {
  const app = makeApp({ name: 'race-check' });
  let currentUser: string | null = null;
  app.beforeRequest((ctx) => {
    currentUser = ctx.query.get('user');
    ctx.g.user = ctx.query.get('user');
  });
  app.get('/global', async () => {
    await sleep(1 + Math.random() * 3); // a database call
    return `user=${String(currentUser)}`;
  });
  app.get('/g', async () => {
    await sleep(1 + Math.random() * 3);
    return `user=${String(g.user)}`;
  });
  app.get('/header', async (ctx) => {
    await sleep(1);
    return { user: ctx.request.header('x-user') };
  });
  app.get('/silent', () => 'ok');
  return app;
}

async function listening(t: TestContext, app: Vial): Promise<string> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  return running.url;
}

describe('checkRace', () => {
  it('finds answers naming another request\'s user when the user lives in a module variable', async () => {
    const result = await checkRace({ target: raceApp(), route: '/global?user={id}', requests: 300, inFlight: 50 });
    assert.equal(result.verdict, 'FAIL', result.message);
    assert.equal(result.ok, false);
    assert.ok(result.crossed > 0);
    const first = result.crossings[0];
    assert.ok(first !== undefined);
    assert.notEqual(first.named, first.id);
    assert.match(first.excerpt, new RegExp(`user=${first.named}`));
    assert.match(result.message, /ctx\.g/);
  });

  it('passes when the user lives in ctx.g', async () => {
    const result = await checkRace({ target: raceApp(), route: '/g?user={id}', requests: 300, inFlight: 50 });
    assert.equal(result.verdict, 'PASS', result.message);
    assert.deepEqual([result.crossed, result.missing, result.failed], [0, 0, 0]);
  });

  it('finds the same race over a real server, and passes its fix there', async (t) => {
    const url = await listening(t, raceApp());
    const broken = await checkRace({ target: url, route: '/global?user={id}', requests: 300, inFlight: 50 });
    assert.equal(broken.verdict, 'FAIL', broken.message);
    const fixed = await checkRace({ target: new URL(url), route: '/g?user={id}', requests: 300, inFlight: 50 });
    assert.equal(fixed.verdict, 'PASS', fixed.message);
  });

  it('sends the identity in a header when given request()', async () => {
    const result = await checkRace({ target: raceApp(), route: '/header', request: (id) => ({ headers: { 'x-user': id } }), requests: 100 });
    assert.equal(result.verdict, 'PASS', result.message);
    assert.equal(result.missing, 0);
  });

  it('cannot tell when the route names no id, and says so instead of passing', async () => {
    const silent = await checkRace({ target: raceApp(), route: '/silent?user={id}', requests: 100 });
    assert.equal(silent.verdict, 'WARN');
    assert.equal(silent.ok, false);
    const missingRoute = await checkRace({ target: raceApp(), route: '/nowhere?user={id}', requests: 100 });
    assert.equal(missingRoute.verdict, 'SKIP');
    assert.equal(missingRoute.failed, 100);
  });

  it('assertNoRace throws an AssertionError that says what crossed, and returns the result when nothing did', async () => {
    await assert.rejects(assertNoRace({ target: raceApp(), route: '/global?user={id}', requests: 200 }), (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.match(error.message, /^race check FAIL: \d+ of 200 answers .* named another request's id/);
      return true;
    });
    assert.equal((await assertNoRace({ target: raceApp(), route: '/g?user={id}', requests: 200 })).crossed, 0);
  });

  it('refuses a route without {id} and no request(), naming the fix', async () => {
    await assert.rejects(checkRace({ target: raceApp(), route: '/global' }), (error: unknown) => {
      assert.ok(error instanceof VialError);
      assert.equal(error.code, 'VIAL_ERR_CONFIG');
      assert.match(error.message, /\{id\} placeholder/);
      return true;
    });
  });
});

/** Failure 1, its fix and two smaller leaks, each a route of one app. */
function growthApp(): Vial {
  const app = makeApp({ name: 'growth-check' });
  const unbounded = new Map<string, string>();
  app.get('/map', (ctx) => {
    const key = ctx.query.get('key') ?? '';
    unbounded.set(key, JSON.stringify({ key, bio: 'x'.repeat(400) })); // a 400-byte profile per key
    return 'ok';
  });
  const bounded = new BoundedCache<string, string>({ name: 'growth-check', maxEntries: 1_000, replace: true });
  app.get('/bounded', (ctx) => {
    const key = ctx.query.get('key') ?? '';
    bounded.set(key, `profile of ${key}`);
    return 'ok';
  });
  // A small leak: only the key string, once per distinct key (a "seen" set nobody clears).
  const seen = new Set<string>();
  app.get('/seen', (ctx) => {
    seen.add(ctx.query.get('key') ?? '');
    return 'ok';
  });
  return app;
}

// 16,000 requests with a 2,000-key warm-up (twice the BoundedCache's bound): 10,000 judged keys,
// enough for a leak of a key string (~100-150 B per key with its set entry, ~1 MiB in all) to clear the 256 KiB bar.
const BUDGET = { requests: 16_000, warmupKeys: 2_000 } as const;

describe('checkGrowth', () => {
  it('FAILs an unbounded Map filled from the query', async () => {
    const result = await checkGrowth({ target: growthApp(), route: '/map?key={n}', ...BUDGET });
    assert.equal(result.verdict, 'FAIL', result.message);
    assert.ok(result.excessBytesPerKey >= 16, result.message);
    assert.equal(result.distinctKeys, 2_000 + result.judgedKeys);
    assert.match(result.source, /after a full GC/);
  });

  it('PASSes a BoundedCache filled past its bound during the warm-up', async () => {
    const result = await checkGrowth({ target: growthApp(), route: '/bounded?key={n}', ...BUDGET });
    assert.equal(result.verdict, 'PASS', result.message);
    assert.ok(result.distinctKeys > 1_000);
    assert.equal(result.okAnswers, result.requests);
  });

  it('catches a small leak: only the key string, kept once per distinct key', async () => {
    // Twice the budget: the noise of the fitted lines shrinks with their length, and a set grows
    // in steps (its table doubles), so a leak this small needs the longer run to stand out.
    const result = await checkGrowth({ target: growthApp(), route: '/seen?key={n}', requests: 32_000, warmupKeys: 2_000 });
    assert.equal(result.verdict, 'FAIL', result.message);
    assert.ok(result.bytesPerKey < 1024, 'a leak far smaller than the doctor\'s 1 kB values');
  });

  it('repeats a run in which memory fell (something else let go of it), and SKIPs when every run did', async () => {
    // A scripted reader: flat, but 1 MiB lower from the fifth reading of a run on, in the first
    // `disturbed` runs. Each run reads memory 24 times (after the settle and the warm-up, then 9 + 13).
    const reader = (disturbedRuns: number): GrowthMemory => {
      let reads = 0;
      return {
        afterFullGc: true,
        source: 'a scripted reader',
        readBytes: () => {
          const run = Math.floor(reads / 24);
          const index = reads++ % 24;
          return run < disturbedRuns && index >= 4 ? 50e6 - 2 ** 20 : 50e6;
        },
      };
    };
    const options = { target: growthApp(), route: '/bounded?key={n}', requests: 600, warmupKeys: 100 };
    const once = await checkGrowth({ ...options, memory: reader(1) });
    assert.equal(once.attempts, 2);
    assert.equal(once.verdict, 'PASS', once.message);
    const always = await checkGrowth({ ...options, memory: reader(3) });
    assert.equal(always.attempts, 3);
    assert.equal(always.verdict, 'SKIP');
    assert.match(always.message, /^memory fell by 1\.0 MiB between two readings in each of 3 runs/);
  });

  it('keeps a FAIL when memory fell only among the judged readings (a fall can hide growth there, never make it)', async () => {
    // Readings 2-10 are the baseline's, 11-23 the judged ones: growing 400 KiB a reading, with a
    // 1 MiB drop from `fallAt` on.
    const leaking = (fallAt: number): GrowthMemory => {
      let reads = 0;
      return {
        afterFullGc: true,
        source: 'a scripted reader',
        readBytes: () => {
          const index = reads++ % 24;
          const grown = index >= 11 ? (index - 10) * 400 * 1024 : 0;
          return 50e6 + grown - (index >= fallAt ? 2 ** 20 : 0);
        },
      };
    };
    const options = { target: growthApp(), route: '/bounded?key={n}', requests: 600, warmupKeys: 100 };
    const judgedFall = await checkGrowth({ ...options, memory: leaking(17) });
    assert.equal(judgedFall.verdict, 'FAIL', judgedFall.message);
    assert.equal(judgedFall.attempts, 1);
    // The same drop in the baseline could have made the difference: repeated, then SKIP.
    const baselineFall = await checkGrowth({ ...options, memory: leaking(6) });
    assert.equal(baselineFall.verdict, 'SKIP', baselineFall.message);
    assert.equal(baselineFall.attempts, 3);
  });

  it('FAILs the Map over a real server listening in this process', async (t) => {
    const url = await listening(t, growthApp());
    const map = await checkGrowth({ target: url, route: '/map?key={n}', requests: 12_000, warmupKeys: 1_000 });
    assert.equal(map.verdict, 'FAIL', map.message);
    assert.equal(map.okAnswers, map.requests);
  });

  it('reads heap after a full GC from an admin listener, and says what to pass when the URL is not one', async (t) => {
    const app = growthApp();
    const admin = await startAdmin(app, { host: '127.0.0.1', port: 0 });
    t.after(() => admin.close());
    const memory = adminHeapAfterGc(admin.url);
    assert.ok((await memory.readBytes()) > 1024 * 1024);
    assert.match(memory.source, /^heap used after a full GC \(POST http:\/\/127\.0\.0\.1:\d+\/memory\/gc\)$/);
    const notAdmin = await listening(t, app);
    await assert.rejects(async () => adminHeapAfterGc(notAdmin).readBytes(), /answered 404 without heapUsedBytes: pass the URL of a vial admin listener/);
  });

  it('SKIPs when most requests fail, and assertNoGrowth fails the test then', async () => {
    const options = { target: growthApp(), route: '/nowhere?key={n}', requests: 400, warmupKeys: 100 };
    assert.equal((await checkGrowth(options)).verdict, 'SKIP');
    await assert.rejects(assertNoGrowth(options), /^AssertionError.*growth check SKIP: most requests failed/s);
  });

  it('assertNoGrowth throws for the Map and returns the result for the BoundedCache', async () => {
    const app = growthApp();
    await assert.rejects(assertNoGrowth({ target: app, route: '/map?key={n}', ...BUDGET }), (error: unknown) => {
      assert.ok(error instanceof AssertionError);
      assert.match(error.message, /^growth check FAIL: grows after the warm-up: .* per distinct key/);
      return true;
    });
    assert.equal((await assertNoGrowth({ target: app, route: '/bounded?key={n}', ...BUDGET })).verdict, 'PASS');
  });

  it('refuses a warm-up that leaves nothing to judge', async () => {
    await assert.rejects(checkGrowth({ target: growthApp(), route: '/map?key={n}', requests: 1_000, warmupKeys: 990 }), /warmupKeys must be an integer from 0 to 950/);
  });
});
