/**
 * HTTPS and HTTP/2 through a real server with a self-signed certificate made here (openssl), and
 * curl as the client: HTTP/2 over ALPN, HTTP/1.1 fallback on the same port, bounded SETTINGS, a
 * graceful drain of open HTTP/2 sessions, and rapid reset (CVE-2023-44487) sent as raw frames.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { ConfigError } from '../src/index.ts';
import { makeApp } from './helpers/both.ts';

const run = promisify(execFile);
let dir = '';
let cert = '';
let key = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vial-tls-'));
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function tlsApp(): { app: ReturnType<typeof makeApp>; calls: { slow: number } } {
  const calls = { slow: 0 };
  const app = makeApp();
  app.get('/', (ctx) => ({ version: ctx.request.raw.httpVersion }));
  app.post('/echo', async (ctx) => ({ got: await ctx.request.json() }));
  app.get('/slow', async () => {
    calls.slow++;
    await new Promise((resolve) => setTimeout(resolve, 150));
    return 'done';
  });
  return { app, calls };
}

async function curl(args: string[]): Promise<string> {
  return (await run('curl', ['-sk', '--max-time', '10', ...args])).stdout;
}

describe('HTTPS and HTTP/2', () => {
  it('speaks HTTP/2 over ALPN and HTTP/1.1 to clients without it, on one port', async (t) => {
    const running = await tlsApp().app.listen({ port: 0, host: '127.0.0.1', tls: { cert, key } });
    t.after(() => running.close());
    assert.match(running.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await curl(['--http2', '-w', ' %{http_version}', `${running.url}/`]), '{"version":"2.0"} 2');
    assert.equal(await curl(['--http1.1', '-w', ' %{http_version}', `${running.url}/`]), '{"version":"1.1"} 1.1');
    assert.equal(await curl(['--http2', '-H', 'content-type: application/json', '-d', '{"a":1}', `${running.url}/echo`]), '{"got":{"a":1}}');
    const head = await curl(['--http2', '-I', `${running.url}/nowhere`]);
    assert.match(head, /^HTTP\/2 404/);
    assert.match(head, /x-content-type-options: nosniff/);
  });

  it('offers bounded HTTP/2 settings', async (t) => {
    const running = await tlsApp().app.listen({ port: 0, host: '127.0.0.1', tls: { cert, key } });
    t.after(() => running.close());
    const client = http2.connect(running.url, { rejectUnauthorized: false });
    t.after(() => client.close());
    const settings = await new Promise<http2.Settings>((resolve) => client.once('remoteSettings', resolve));
    assert.equal(settings.maxConcurrentStreams, 100);
    assert.equal(settings.maxHeaderListSize, 16_384);
    assert.equal(settings.enablePush, false);
  });

  it('lets an in-flight HTTP/2 request finish at close, and tells the session to go away', async (t) => {
    const running = await tlsApp().app.listen({ port: 0, host: '127.0.0.1', tls: { cert, key } });
    const client = http2.connect(running.url, { rejectUnauthorized: false });
    t.after(() => client.destroy());
    let goaway = false;
    client.on('goaway', () => (goaway = true));
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = client.request({ ':path': '/slow' });
      let body = '';
      let status = 0;
      req.on('response', (headers) => (status = Number(headers[':status'])));
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end();
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all([running.close(), answer]);
    assert.deepEqual(await answer, { status: 200, body: 'done' });
    assert.equal(goaway, true);
  });

  it('closes a connection that opens and resets streams in a burst (rapid reset), and keeps serving others', async (t) => {
    const { app, calls } = tlsApp();
    const running = await app.listen({ port: 0, host: '127.0.0.1', tls: { cert, key } });
    t.after(() => running.close());
    const socket = tls.connect({ port: running.port, host: '127.0.0.1', ALPNProtocols: ['h2'], rejectUnauthorized: false });
    t.after(() => socket.destroy());
    await new Promise((resolve) => socket.once('secureConnect', resolve));
    assert.equal(socket.alpnProtocol, 'h2');
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.on('error', () => undefined);
    socket.resume();
    const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
      const head = Buffer.alloc(9);
      head.writeUIntBE(payload.length, 0, 3);
      head[3] = type;
      head[4] = flags;
      head.writeUInt32BE(stream, 5);
      return Buffer.concat([head, payload]);
    };
    // HPACK: :method GET, :scheme https, :path /slow as a literal, :authority localhost.
    const headers = Buffer.from([0x82, 0x87, 0x04, 0x05, ...Buffer.from('/slow'), 0x01, 0x09, ...Buffer.from('localhost')]);
    const cancel = Buffer.alloc(4);
    cancel.writeUInt32BE(http2.constants.NGHTTP2_CANCEL);
    const burst: Buffer[] = [Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(0x4, 0, 0, Buffer.alloc(0))];
    const attempts = 10_000;
    for (let i = 0; i < attempts; i++) burst.push(frame(0x1, 0x5, 1 + 2 * i, headers), frame(0x3, 0, 1 + 2 * i, cancel));
    socket.write(Buffer.concat(burst));
    await closed;
    assert.ok(calls.slow <= 250, `the handler ran ${calls.slow} times for ${attempts} reset streams`);
    assert.equal(await curl(['--http2', '-w', ' %{http_version}', `${running.url}/`]), '{"version":"2.0"} 2');
  });

  it('answers 431 and 413 over HTTP/2 with their JSON bodies, without the HTTP/1 Connection header', async (t) => {
    const { app } = tlsApp();
    app.post('/small', { maxBodyBytes: 1024 }, async (ctx) => ({ bytes: (await ctx.request.bytes()).length }));
    const running = await app.listen({ port: 0, host: '127.0.0.1', tls: { cert, key } });
    t.after(() => running.close());
    const client = http2.connect(running.url, { rejectUnauthorized: false });
    t.after(() => client.close());
    const ask = (headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> =>
      new Promise((resolve, reject) => {
        const req = client.request(headers);
        let text = '';
        let head: http2.IncomingHttpHeaders = {};
        req.on('response', (h) => (head = h));
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (text += chunk));
        req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: text }));
        req.on('error', reject);
        req.end(body);
      });
    const many: http2.OutgoingHttpHeaders = { ':path': '/' };
    for (let i = 0; i < 120; i++) many[`x-h${i}`] = '1';
    const crowded = await ask(many);
    assert.equal(crowded.status, 431);
    assert.equal((JSON.parse(crowded.body) as { error: { code: string } }).error.code, 'VIAL_ERR_TOO_MANY_HEADERS');
    assert.equal(crowded.headers['connection'], undefined);
    const big = await ask({ ':path': '/small', ':method': 'POST', 'content-length': '4096' }, Buffer.alloc(4096));
    assert.equal(big.status, 413);
    assert.equal((JSON.parse(big.body) as { error: { code: string } }).error.code, 'VIAL_ERR_BODY_TOO_LARGE');
    // The session is still good for the next stream.
    assert.equal((await ask({ ':path': '/' })).status, 200);
  });

  it('says what is wrong with a certificate it cannot use', async () => {
    const app = makeApp();
    await assert.rejects(app.listen({ port: 0, tls: { cert: join(dir, 'missing.pem'), key } }), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_TLS' && /cannot read/.test(e.message));
    await assert.rejects(makeApp().listen({ port: 0, tls: { cert: key, key: cert } }), (e: unknown) => e instanceof ConfigError && e.code === 'VIAL_ERR_TLS');
  });
});

describe('vial run --cert --key', () => {
  it('serves HTTP/2 over TLS and drains on SIGTERM', { timeout: 60_000 }, async (t) => {
    const main = new URL('../src/cli/main.ts', import.meta.url).pathname;
    const app = new URL('./fixtures/cli/app.ts', import.meta.url).pathname;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [main, 'run', app, '--port', '0', '--no-admin', '--cert', cert, '--key', key], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'development' } });
    t.after(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line: ${out}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(m[1] as string);
        }
      });
    });
    assert.equal(await curl(['--http2', '-w', ' %{http_version}', `${url}/pid`]), `${child.pid} 2`);
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
  });

  it('refuses --cert without --key', async () => {
    const main = new URL('../src/cli/main.ts', import.meta.url).pathname;
    const result = await run(process.execPath, [main, 'run', 'app.ts', '--cert', cert]).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /both --cert and --key/);
  });
});
