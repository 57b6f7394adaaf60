/** Small networking helpers the tests share: a free loopback port and bounded requests. */
import { request } from 'node:http';
import type { Agent, IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';

/** A port nothing listens on right now (127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/**
 * One request to http://127.0.0.1:<port><path> with a 10 s bound, sending exactly `headers` (plus
 * content-length for a body); resolves to the status, headers and body text.
 */
export function send(port: number, agent: Agent, method: string, path: string, headers: Record<string, string> = {}, body?: string | Buffer): Promise<Answer> {
  const all = body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: all, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} got no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A bounded plain GET (see send). */
export function getText(port: number, path: string, agent: Agent): Promise<{ status: number; text: string }> {
  return send(port, agent, 'GET', path);
}
