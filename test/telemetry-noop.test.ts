/**
 * With no OpenTelemetry SDK registered (this file's process registers none), the telemetry plugin
 * touches no request: the server's emit is Node's own, no header is written, log lines carry no ids.
 */
import assert from 'node:assert/strict';
import { Server } from 'node:http';
import { after, describe, it } from 'node:test';
import { trace } from '@opentelemetry/api';
import { traceHeaders, traceLogFields, Vial } from '../src/index.ts';
import type { RunningServer } from '../src/index.ts';

const servers: RunningServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

describe('telemetry with no OpenTelemetry SDK registered', () => {
  it('leaves the server as Node made it: no wrapped emit, so no work per request', async () => {
    const app = new Vial({ env: 'test' });
    app.get('/hello', () => 'hello');
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    servers.push(running);
    assert.equal(Object.hasOwn(running.server, 'emit'), false, 'emit is http.Server.prototype.emit, not a wrapper');
    assert.ok(running.server instanceof Server);
    assert.equal(await (await fetch(`${running.url}/hello`)).text(), 'hello');
  });

  it('continues nothing: traceHeaders() adds no header and log fields are empty, even with a traceparent', async () => {
    const lines: Record<string, unknown>[] = [];
    const destination = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
    const app = new Vial({ env: 'test', log: { level: 'info', destination } });
    app.get('/inside', (ctx) => {
      ctx.log.info('inside');
      return { headers: traceHeaders(), fields: traceLogFields(), active: trace.getActiveSpan() !== undefined };
    });
    const running = await app.listen({ port: 0, host: '127.0.0.1' });
    servers.push(running);
    const res = await fetch(`${running.url}/inside`, { headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } });
    assert.deepEqual(await res.json(), { headers: {}, fields: {}, active: false });
    const line = lines.find((l) => l['msg'] === 'inside');
    assert.ok(line);
    assert.equal('trace_id' in line, false);
  });
});
