/**
 * The context race (DESIGN.md, failure 4): a value set in a before hook and read after an
 * `await` must be the current request's, never another's. 10,000 requests run at once, each
 * awaiting a random short delay between setting `g.user` and reading it back through the `g`
 * accessor and through `ctx.g`. A module-level variable set the same way is the control: it
 * must go wrong, which proves the requests really did overlap.
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { g } from '../src/index.ts';
import type { Vial } from '../src/index.ts';
import { TestClient } from '../src/testing.ts';
import { makeApp } from './helpers/both.ts';

const REQUESTS = 10_000;

interface Answer {
  viaG: unknown;
  viaCtx: unknown;
  afterSecondAwait: unknown;
  inHook: unknown;
  naive: unknown;
}

/** setImmediate, a resolved-promise chain, or a 0-2 ms timer, at random. */
function randomDelay(): Promise<void> {
  const kind = Math.floor(Math.random() * 3);
  if (kind === 0) return new Promise((resolve) => setImmediate(resolve));
  if (kind === 1) {
    let chain = Promise.resolve();
    for (let i = Math.floor(Math.random() * 10); i >= 0; i--) chain = chain.then(() => undefined);
    return chain;
  }
  return new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
}

function raceApp(): { app: Vial; peak: () => number } {
  // Admission would (rightly) queue and shed most of 10,000 simultaneous requests; this test is
  // about context isolation, so the limits are raised until every request runs at once.
  const app = makeApp({ load: { admission: { maxInFlight: REQUESTS, maxQueue: 0, routeConcurrencyShare: 1 } } });
  // The anti-pattern: a module-level "current user". Kept as the control.
  let naiveCurrentUser: string | null = null;
  let inFlight = 0;
  let peak = 0;
  app.beforeRequest(async (ctx) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    const user = ctx.query.get('user');
    g['user'] = user;
    naiveCurrentUser = user;
    await randomDelay();
    ctx.g['inHook'] = g['user'];
  });
  app.teardownRequest(() => {
    inFlight--;
  });
  app.get('/whoami', async (ctx) => {
    await randomDelay();
    const viaG = g['user'];
    const viaCtx = ctx.g['user'];
    const naive = naiveCurrentUser;
    await randomDelay();
    const answer: Answer = { viaG, viaCtx, afterSecondAwait: g['user'], inHook: ctx.g['inHook'], naive };
    return answer;
  });
  return { app, peak: () => peak };
}

function check(answers: readonly Answer[]): { wrong: string[]; naiveWrong: number } {
  const wrong: string[] = [];
  let naiveWrong = 0;
  answers.forEach((answer, i) => {
    const user = `user-${i}`;
    if (answer.viaG !== user || answer.viaCtx !== user || answer.afterSecondAwait !== user || answer.inHook !== user) {
      wrong.push(`request ${user} saw ${JSON.stringify(answer)}`);
    }
    if (answer.naive !== user) naiveWrong++;
  });
  return { wrong, naiveWrong };
}

describe('request context under 10,000 concurrent requests', () => {
  it('never answers with another request’s user through the test client', async () => {
    const { app, peak } = raceApp();
    const client = new TestClient(app);
    const replies = await Promise.all(
      Array.from({ length: REQUESTS }, (_, i) => client.get('/whoami', { query: { user: `user-${i}` }, noCookies: true })),
    );
    assert.deepEqual(replies.filter((r) => r.status !== 200).map((r) => r.status), []);
    const { wrong, naiveWrong } = check(replies.map((r) => r.json<Answer>()));
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${REQUESTS} requests saw another request's user`);
    assert.ok(peak() > 1, `requests overlapped (peak in flight ${peak()})`);
    assert.ok(naiveWrong > 0, 'the module-level variable control went wrong, so the requests really interleaved');
  });

  it('never answers with another request’s user through a real server', async (t: TestContext) => {
    const { app, peak } = raceApp();
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    // Bounded sockets: all 10,000 requests are issued at once and queue in the agent, so the
    // app sees up to 256 at a time without the test exhausting file descriptors.
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    t.after(async () => {
      agent.destroy();
      await running.close();
    });
    const answers = await Promise.all(Array.from({ length: REQUESTS }, (_, i) => getJson(running.port, agent, `/whoami?user=user-${i}`)));
    const { wrong, naiveWrong } = check(answers);
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${REQUESTS} requests saw another request's user`);
    assert.ok(peak() > 1, `requests overlapped (peak in flight ${peak()})`);
    assert.ok(naiveWrong > 0, 'the module-level variable control went wrong, so the requests really interleaved');
  });
});

function getJson(port: number, agent: Agent, path: string): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`${path}: ${res.statusCode ?? '?'} ${text}`));
        else resolve(JSON.parse(text) as Answer);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within 30 s`)));
    req.on('error', reject);
    req.end();
  });
}
