/**
 * examples/chat in Chromium: two people (two browser contexts, so two sessions) pick nicknames, join
 * the same room and see each other's messages over WebSockets; the screenshot of one page goes to
 * docs/websocket-chat.png. A page of another site cannot open the room's socket (403 before the
 * handshake), and no socket opens without a nickname (the before hook's 401).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { websocketStats } from '../src/index.ts';
import type { RunningServer } from '../src/index.ts';
import { createChatApp } from '../examples/chat/app.ts';

const SCREENSHOT = fileURLToPath(new URL('../docs/websocket-chat.png', import.meta.url));

describe('examples/chat in a browser', () => {
  const app = createChatApp({ log: { level: 'silent' }, watchdog: { enabled: false } }, '');
  let running: RunningServer;
  let browser: Browser | undefined;

  before(async () => {
    running = await app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    });
  });
  after(async () => {
    await browser?.close();
    await running.close();
  });

  async function join(name: string): Promise<Page> {
    const context = await (browser as Browser).newContext({ viewport: { width: 720, height: 560 } });
    const page = await context.newPage();
    await page.goto(running.url);
    await page.fill('input[name=name]', name);
    await page.click('button');
    await page.waitForURL(/\/rooms\/lobby$/);
    await page.waitForSelector('body[data-connected=yes]');
    return page;
  }

  async function say(page: Page, text: string): Promise<void> {
    await page.fill('input[name=text]', text);
    await page.press('input[name=text]', 'Enter');
  }

  it("shows each page the other's messages, live", async () => {
    const ada = await join('ada');
    const grace = await join('grace');
    await ada.waitForSelector('#log li.system:has-text("grace joined")');
    await say(ada, 'Hello Grace, the socket is open.');
    await grace.waitForSelector('#log li:has-text("Hello Grace, the socket is open.")');
    await say(grace, 'Hi Ada! <b>not bold</b>');
    await ada.waitForSelector('#log li:has-text("Hi Ada! <b>not bold</b>")');
    assert.equal(await ada.locator('#log b').count(), 0, 'message text is text, never markup');
    const lines = await grace.locator('#log li').allTextContents();
    assert.deepEqual(lines, ['grace joined', 'adaHello Grace, the socket is open.', 'graceHi Ada! <b>not bold</b>']);
    writeFileSync(SCREENSHOT, await ada.screenshot({ fullPage: true }));
  });

  it("refuses the socket to another origin's page even with the victim's cookie (CSWSH), and to a visitor without a nickname", async () => {
    const victim = await join('victim');
    const socketUrl = `${running.url.replace(/^http/, 'ws')}/rooms/lobby/socket`;
    const openFrom = (page: Page): Promise<string> =>
      page.evaluate(
        (url) => new Promise<string>((resolve) => {
          const socket = new WebSocket(url);
          socket.onopen = () => {
            socket.close();
            resolve('open');
          };
          socket.onclose = (event) => resolve(`closed ${event.code}`);
        }),
        socketUrl,
      );
    // A page on another port is another origin but the same site: the browser sends the Lax
    // session cookie with the handshake, and only the Origin check stands in the way.
    const evil = createServer((_req, res) => res.end('<!doctype html><title>evil</title>'));
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = evil.address() as AddressInfo;
      const attacker = await victim.context().newPage();
      await attacker.goto(`http://127.0.0.1:${port}/`);
      assert.equal(await openFrom(attacker), 'closed 1006');
      assert.equal(await openFrom(victim), 'open', 'the same page opens it from its own origin');
    } finally {
      evil.close();
    }
    // Same origin, no nickname in the session: the before hook answers 401, no socket.
    const anonymous = await (await (browser as Browser).newContext()).newPage();
    await anonymous.goto(running.url);
    assert.equal(await openFrom(anonymous), 'closed 1006');
    const refusals = websocketStats(app)?.routes.find((r) => r.route === 'GET /rooms/<room>/socket')?.refused;
    assert.equal(refusals, 1, 'the cross-site handshake was refused by the Origin check (the 401 is the before hook)');
  });
});
