import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { applyServerLimits, hasTooManyHeaders, serverOptions } from '../src/load/server-limits.ts';

// Small limits so slow clients trip them quickly; only behaviour is asserted, never timing.
const limits = {
  headersTimeoutMs: 200,
  requestTimeoutMs: 400,
  connectionsCheckingIntervalMs: 50,
  maxHeadersCount: 5,
  maxHeaderSizeBytes: 1024,
};

let server: Server;
let port: number;

/**
 * Writes `parts` one every `gapMs` on a raw socket. Resolves with the status line only once the
 * server closes the socket (so resolving at all proves the close); rejects after a bounded 10 s.
 */
function talk(parts: string[], gapMs: number): Promise<{ status: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let i = 0;
    const writer = setInterval(() => { if (i < parts.length && socket.writable) socket.write(parts[i++]!); }, gapMs);
    const guard = setTimeout(() => { socket.destroy(); reject(new Error(`no close after 10 s; got ${received}`)); }, 10_000);
    socket.on('data', (chunk: Buffer) => { received += chunk.toString('latin1'); });
    socket.on('error', () => { /* a reset after the response is expected; the close handler reports */ });
    socket.on('close', () => {
      clearInterval(writer);
      clearTimeout(guard);
      resolve({ status: received.split('\r\n')[0] ?? '' });
    });
  });
}

before(async () => {
  server = createServer(serverOptions(limits), (req, res) => {
    if (hasTooManyHeaders(req, limits.maxHeadersCount)) {
      res.writeHead(431, { connection: 'close' }).end();
      return;
    }
    req.resume();
    req.on('end', () => { res.end('ok'); });
  });
  applyServerLimits(server, limits);
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve, reject) => { server.close((error) => { if (error) reject(error); else resolve(); }); });
});

describe('server limits', () => {
  it('sets the vial defaults on a server', () => {
    const s = applyServerLimits(createServer());
    assert.equal(s.headersTimeout, 10_000);
    assert.equal(s.requestTimeout, 30_000);
    assert.equal(s.keepAliveTimeout, 5_000);
    assert.equal(s.maxHeadersCount, 101, 'one over the limit, so hasTooManyHeaders can see it');
    assert.equal(s.maxRequestsPerSocket, 0);
    assert.equal(serverOptions().maxHeaderSize, 16_384);
  });

  it('serves a well-behaved request', async () => {
    const { status } = await talk(['GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'], 5);
    assert.equal(status, 'HTTP/1.1 200 OK');
  });

  it('answers 408 and closes the socket when headers arrive byte by byte (slowloris)', async () => {
    const bytes = [...'GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\nX-Slower: 2\r\n'];
    const result = await talk(bytes, 30);
    assert.equal(result.status, 'HTTP/1.1 408 Request Timeout');
  });

  it('answers 408 and closes the socket when the body trickles in', async () => {
    const head = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n';
    const result = await talk([head, ...'abcdefghijklmnopqrstuvwxyz'], 60);
    assert.equal(result.status, 'HTTP/1.1 408 Request Timeout');
  });

  it('answers 431 to more headers than maxHeadersCount', async () => {
    const many = Array.from({ length: 10 }, (_, i) => `X-H${i}: 1\r\n`).join('');
    const result = await talk([`GET / HTTP/1.1\r\nHost: x\r\n${many}\r\n`], 5);
    assert.equal(result.status, 'HTTP/1.1 431 Request Header Fields Too Large');
  });

  it('answers 431 to headers larger than maxHeaderSizeBytes', async () => {
    const result = await talk([`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(2000)}\r\n\r\n`], 5);
    assert.equal(result.status, 'HTTP/1.1 431 Request Header Fields Too Large');
  });
});
