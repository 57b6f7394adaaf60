import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent } from 'node:http';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getText } from './helpers/net.ts';
import { pollUntil } from './helpers/wait.ts';
import type { SupervisorStats } from '../src/process/supervisor.ts';

const primaryScript = fileURLToPath(new URL('./fixtures/admin/primary.ts', import.meta.url));

const get = getText;

describe('metrics across workers', () => {
  const child = spawn(process.execPath, [primaryScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const exited = once(child, 'exit');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  });

  it('serves on the primary the sum of a counter incremented in two workers', async () => {
    const ports = await new Promise<{ app: number; admin: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fixture primary did not start within 20 s')), 20_000);
      let buffer = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buffer += chunk;
        const line = buffer.split('\n').find((l) => l.startsWith('{"app"'));
        if (line !== undefined) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { app: number; admin: number });
        }
      });
      child.once('exit', (code) => reject(new Error(`the fixture primary exited with ${String(code)}`)));
    });
    // A new connection per request: the supervisor hands each connection to the least busy worker.
    const agent = new Agent({ keepAlive: false });
    const pids = new Set<string>();
    let sent = 0;
    for (; sent < 40 && (sent < 10 || pids.size < 2); sent++) {
      const res = await get(ports.app, '/pid', agent);
      assert.equal(res.status, 200);
      pids.add(res.text);
    }
    assert.equal(pids.size, 2, 'both workers served requests');
    const metrics = await get(ports.admin, '/metrics', agent);
    // /workers carries each worker's heap from its last report: RSS alone cannot tell live data
    // from heap V8 committed (memory/heap-layout.ts). Both workers reported when they served.
    const workers = await pollUntil('both workers to have reported their heap', async () => {
      const stats = JSON.parse((await get(ports.admin, '/workers', agent)).text) as SupervisorStats;
      return stats.workers.length === 2 && stats.workers.every((w) => w.heap.usedBytes > 0) ? stats.workers : undefined;
    });
    agent.destroy();
    for (const w of workers) {
      assert.ok(w.heap.committedBytes >= w.heap.usedBytes, JSON.stringify(w.heap));
      assert.ok(w.heap.youngCommittedBytes > 0 && w.heap.youngCommittedBytes < w.heap.committedBytes, JSON.stringify(w.heap));
      assert.ok(w.rssBytes > w.heap.committedBytes, `rss ${w.rssBytes} vs ${JSON.stringify(w.heap)}`);
    }
    assert.equal(metrics.status, 200);
    const line = /^vial_http_requests_total\{route="GET \/pid",method="GET",status_class="2xx"\} (\d+)$/m.exec(metrics.text);
    assert.ok(line !== null, metrics.text.slice(0, 2000));
    assert.equal(Number(line[1]), sent);
    assert.match(metrics.text, /^vial_admin_scrape_missing_workers 0$/m);
    assert.match(metrics.text, /^vial_workers\{state="ready"\} 2$/m);
    assert.match(metrics.text, /^vial_worker_restarts_total\{cause="crash"\} 0$/m);
  });
});
