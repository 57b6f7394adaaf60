/**
 * A server-rendered login app: sessions, CSRF and password hashing as vial does them by default.
 *
 *   node src/cli/main.ts run examples/login/app.ts     # then open http://127.0.0.1:5000
 *   user: ada   password: correct horse battery staple
 *
 * Sessions live in SQLite under .vial/ (the default store), so a restart keeps you signed in.
 * Every form carries the CSRF token; modern browsers are already refused cross-site by their
 * Sec-Fetch-Site header, the token protects old ones. examples/login/README.md says what to try.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { html, redirect, Vial } from '../../src/index.ts';
import type { Context, SafeHtml, VialOptions } from '../../src/index.ts';
import hashPassword from './hash-worker.ts';

interface User {
  readonly id: string;
  readonly salt: string;
  readonly hash: string;
  displayName: string;
}

const HASH_WORKER = new URL('./hash-worker.ts', import.meta.url);
/** Bounds the work an anonymous client can ask of the hashing pool. */
const MAX_PASSWORD_CHARS = 256;

function page(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
}

function loginForm(ctx: Context, failed: boolean): SafeHtml {
  return page(
    'Sign in',
    html`<h1>Sign in</h1>
      ${failed ? html`<p role="alert">Wrong user name or password.</p>` : ''}
      <form method="post" action="/login">
        <input type="hidden" name="_csrf" value="${ctx.csrfToken()}">
        <label>User <input name="username" autocomplete="username" required></label>
        <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
        <button>Sign in</button>
      </form>`,
  );
}

export function createLoginApp(options: VialOptions = {}): Vial {
  // Intentionally a fixed in-memory user table; the hash is made once at startup, before serving.
  const salt = randomBytes(16).toString('base64');
  const users = new Map<string, User>([['ada', { id: 'ada', salt, hash: hashPassword({ password: 'correct horse battery staple', salt }), displayName: 'Ada' }]]);

  const app = new Vial({ name: 'login', ...options });

  app.get('/', function home(ctx) {
    const user = ctx.session.userId === undefined ? undefined : users.get(ctx.session.userId);
    if (user === undefined) return redirect('/login');
    return page(
      'Home',
      html`<h1>Hello, <span id="name">${user.displayName}</span></h1>
        <p>Signed in as <code id="user">${user.id}</code>.</p>
        <form method="post" action="/profile">
          <input type="hidden" name="_csrf" value="${ctx.csrfToken()}">
          <label>Display name <input name="displayName" value="${user.displayName}" maxlength="60" required></label>
          <button>Save</button>
        </form>
        <form method="post" action="/logout">
          <input type="hidden" name="_csrf" value="${ctx.csrfToken()}">
          <button>Sign out</button>
        </form>`,
    );
  });

  app.get('/login', function loginPage(ctx) {
    return loginForm(ctx, ctx.query.get('failed') === '1');
  });

  app.post('/login', async function login(ctx) {
    const form = await ctx.request.form();
    const user = users.get(form.get('username') ?? '');
    const password = form.get('password') ?? '';
    if (user === undefined || password.length === 0 || password.length > MAX_PASSWORD_CHARS) return redirect('/login?failed=1');
    // scrypt in the worker pool: the event loop keeps serving while the hash is computed.
    const hash = await ctx.offload<string>(HASH_WORKER, { password, salt: user.salt });
    if (!timingSafeEqual(Buffer.from(hash, 'base64'), Buffer.from(user.hash, 'base64'))) return redirect('/login?failed=1');
    ctx.session.login(user.id); // a new session id: one planted before login is worthless
    return redirect('/');
  });

  app.post('/profile', async function profile(ctx) {
    const user = ctx.session.userId === undefined ? undefined : users.get(ctx.session.userId);
    if (user === undefined) return redirect('/login');
    const name = ((await ctx.request.form()).get('displayName') ?? '').trim();
    if (name.length > 0 && name.length <= 60) user.displayName = name;
    return redirect('/');
  });

  app.post('/logout', function logout(ctx) {
    ctx.session.logout(); // the id is destroyed in the store and the cookie cleared
    return redirect('/login');
  });

  return app;
}

export const app = createLoginApp();
export default app;
