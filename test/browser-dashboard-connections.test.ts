/**
 * The dashboard's header shows open connections and the cap (issue 13, class 8), from /stats:
 * two keep-alive clients held open against a cap of 5, one more refused past it. Real Chromium.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { startAdmin } from '../src/admin/server.ts';
import { makeApp } from './helpers/both.ts';
import { pollUntil, waitUntil } from './helpers/wait.ts';

describe('the dashboard header', { timeout: 60_000 }, () => {
  it('shows open connections / the cap, and refusals once there are some', async (t) => {
    const app = makeApp({ load: { server: { maxConnections: 2 } } });
    app.get('/', () => 'ok');
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(() => running.close());
    const admin = await startAdmin(app, { port: 0 });
    t.after(() => admin.close());
    const sockets: Socket[] = [];
    t.after(() => sockets.forEach((s) => s.destroy()));
    for (let i = 0; i < 3; i++) {
      const socket = connect(running.port, '127.0.0.1');
      socket.on('error', () => undefined);
      sockets.push(socket);
      let text = '';
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      let closed = false;
      socket.on('close', () => (closed = true));
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      // The first two are answered and stay open; the third is over the cap and reset.
      await waitUntil(i < 2 ? 'an answer' : 'the refusal', () => (i < 2 ? text.endsWith('ok') : closed));
    }
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'], timeout: 30_000 });
    t.after(() => browser.close());
    const page = await browser.newPage();
    await page.goto(admin.url + '/', { waitUntil: 'load' });
    const shown = await pollUntil('the connections line', async () => ((await page.locator('#connections').textContent()) ?? '') || undefined, { timeoutMs: 15_000 });
    assert.equal(shown, 'connections 2 / 2 · refused 1');
  });
});
