/**
 * The five failures that hurt long-running Flask (and Node) services, each handled the vial way.
 *
 *   node src/cli/main.ts run examples/five-failures/app.ts
 *
 * 1. Memory leak      GET  /cache?key=k&value=v   a BoundedCache, never an unbounded dict
 * 2. Pool exhaustion  GET  /slow  vs  GET /fast   a bulkhead and a deadline on the slow route
 * 3. Weak async       GET  /hash?password=p       CPU work in the worker-thread pool
 *                     GET  /primes?n=200000       a whole route run off the event loop
 * 4. Context race     GET  /data?user=ann         g.user set in a hook, read after an await
 * 5. CSRF / sessions  GET  /login, POST /login, GET /me, POST /logout
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BoundedCache, Vial, g, html, redirect, abort } from '../../src/index.ts';

export const app = new Vial({ name: 'five-failures' });

// 1. Memory: `cache[request.args["key"]] = value` grows forever in Flask. A BoundedCache cannot be
// created without a bound, evicts the least recently used entry, and shows up in the registry.
const kv = new BoundedCache<string, string>({ name: 'five-failures.kv', maxEntries: 10_000, ttlMs: 10 * 60_000 });
app.get('/cache', function cache(ctx) {
  const key = ctx.query.get('key');
  const value = ctx.query.get('value');
  if (key === null || value === null) abort(400, 'Pass ?key=...&value=...');
  kv.set(key, value);
  return { cached: key, entries: kv.size };
});

// 2. Pool exhaustion: under `gunicorn -w 4`, four calls to a 10 s endpoint stall everything. Here the
// slow route may run 8 at a time (its bulkhead), waits at most 15 s (its deadline aborts ctx.signal),
// and everything past that is refused at once with 503 + Retry-After while /fast keeps answering.
app.get('/slow', { concurrency: 8, maxQueue: 8, timeoutMs: 15_000 }, async function slow(ctx) {
  await sleep(2_000, undefined, { signal: ctx.signal }); // a slow downstream call that honours the signal
  return { done: true };
});
app.get('/fast', function fast() {
  return { fast: true };
});

// 3. Weak async: hashing a password on the event loop stalls every request. ctx.offload runs it in
// the bounded worker-thread pool; a route with `worker` runs whole in the pool.
app.get('/hash', async function hash(ctx) {
  const password = ctx.query.get('password') ?? abort(400, 'Pass ?password=...');
  const digest = await ctx.offload<string>(new URL('./hash-worker.ts', import.meta.url), password);
  return { scrypt: digest };
});
app.get('/primes', { worker: new URL('./primes-route.ts', import.meta.url), timeoutMs: 10_000 });

// 4. Context: a module-level `current_user` set in a hook is read by whichever request runs next.
// g belongs to this request only, across every await.
app.beforeRequest(function loadUser(ctx) {
  ctx.g.user = ctx.query.get('user') ?? 'anonymous';
});
app.get('/data', async function data() {
  await sleep(Math.random() * 20);
  return `Data for ${String(g.user)}`;
});

// 5. CSRF and sessions: the form carries the session-bound token; a cross-site POST is refused before
// the handler runs; login rotates the session id; logout destroys it.
app.get('/login', function loginForm(ctx) {
  return html`<!doctype html><title>Log in</title>
    <form method="post" action="/login">
      <input type="hidden" name="_csrf" value="${ctx.csrfToken()}">
      <label>User <input name="user" required></label>
      <button>Log in</button>
    </form>`;
});
app.post('/login', async function login(ctx) {
  const form = await ctx.request.form();
  const user = form.get('user')?.trim();
  if (!user) abort(422, 'Enter a user name.');
  ctx.session.login(user);
  return redirect('/me');
});
app.get('/me', function me(ctx) {
  return { user: ctx.session.userId ?? null };
});
app.post('/logout', function logout(ctx) {
  ctx.session.logout();
  return redirect('/login');
});

export default app;
