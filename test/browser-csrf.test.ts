/**
 * CSRF in a real browser (issue 5): Debian's Chromium, driven by playwright-core, logs in to the
 * vial app on http://127.0.0.1:<A>, then visits an attacker page on http://localhost:<B> (another
 * site) that fires a credentialed no-cors fetch and auto-submits a form at the app. Both must be
 * refused (403, counted as cross-site) without their handlers running; the app's own form, in the
 * same browser, must then go through.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { startAttacker } from './fixtures/browser/attacker.ts';
import type { Attacker } from './fixtures/browser/attacker.ts';
import { victimApp } from './fixtures/browser/victim-app.ts';
import type { RunningServer } from '../src/index.ts';
import { holdsWithin } from './helpers/wait.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 10_000;

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly site: string | undefined;
  readonly origin: string | undefined;
  readonly cookie: boolean;
}

describe('CSRF in Chromium', () => {
  it('refuses a cross-site form post and no-cors fetch from a logged-in browser, and accepts the app\'s own form', { timeout: 60_000 }, async (t) => {
    const { app, calls } = victimApp();
    const running: RunningServer = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => running.close());
    const seen: Seen[] = [];
    running.server.prependListener('request', (req) => {
      if (req.method === 'POST') {
        const site = req.headers['sec-fetch-site'];
        seen.push({ method: req.method, url: req.url ?? '', site, origin: req.headers.origin, cookie: req.headers.cookie !== undefined });
      }
    });
    const attacker: Attacker = await startAttacker(running.url);
    t.after(() => attacker.close());
    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
    t.after(() => browser.close());
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);

    // 1. The victim signs in: the browser now holds the session cookie for 127.0.0.1.
    await page.goto(`${running.url}/login`);
    await Promise.all([page.waitForURL(`${running.url}/account`), page.click('#sign-in')]);
    assert.equal(await page.textContent('#who'), 'Signed in as victim');
    const cookies = await context.cookies(running.url);
    assert.deepEqual(
      // The login page's token was anonymous, so it came with the (HttpOnly) csrf cookie, not a session.
      cookies.map((c) => [c.name, c.httpOnly, c.sameSite]).sort(),
      [['vial_csrf', true, 'Lax'], ['vial_session', true, 'Lax']],
    );

    // 2. The victim visits the attacker's page: fetch first, then the auto-submitted form.
    const refusedForm = page.waitForResponse((res) => res.url() === `${running.url}/transfer`);
    await page.goto(attacker.url);
    const formResponse = await refusedForm;
    assert.equal(formResponse.status(), 403);
    // The response arrives before the navigation commits; let it finish so nothing interrupts step 3.
    await page.waitForURL(`${running.url}/transfer`);
    await page.waitForLoadState();
    assert.ok(await holdsWithin(() => app.security.csrfRefusals['cross-site'] === 2, WAIT_MS), `refusals: ${JSON.stringify(app.security.csrfRefusals)}`);
    assert.deepEqual(calls, { form: 0, json: 0 }, 'neither handler ran');
    const attacks = seen.filter((s) => s.origin?.startsWith('http://localhost:') === true);
    assert.deepEqual(
      attacks.map((s) => [s.url, s.site]).sort(),
      [['/api/transfer', 'cross-site'], ['/transfer', 'cross-site']],
      'Chromium marks both attacks cross-site',
    );
    // SameSite=Lax already kept the cookie off both; the refusal stands on Sec-Fetch-Site alone,
    // which is what protects browsers and sites where SameSite does not (same-site subdomains).
    assert.ok(attacks.every((s) => !s.cookie), 'the session cookie stayed home');

    // 3. The app's own form, same browser and session (a new tab), goes through.
    const own = await context.newPage();
    own.setDefaultTimeout(WAIT_MS);
    await own.goto(`${running.url}/account`);
    await own.fill('input[name=amount]', '25');
    const [ownResponse] = await Promise.all([own.waitForResponse((res) => res.url() === `${running.url}/transfer`), own.click('#transfer')]);
    assert.equal(ownResponse.status(), 200);
    assert.equal(await own.textContent('#done'), 'Transferred 25 for victim');
    assert.deepEqual(calls, { form: 1, json: 0 });
    assert.equal(seen.at(-1)?.site, 'same-origin');
    assert.equal(app.security.csrfRefusals['cross-site'], 2, 'no new refusals');

    await context.close();
  });
});
