/**
 * Request framing over raw sockets through a real server (issue 13, class 1): Transfer-Encoding,
 * the HTTP version on the request line, chunk syntax and Host syntax. Cases follow RFC 9112
 * §6.1/§6.3/§7.1, RFC 9110 §4.2.1/§7.2/§15.6.6, gunicorn's tests/requests/invalid fixtures and Go's
 * net/http TestServerValidatesHostHeader. Every refused case asserts that no state-changing
 * handler ran: the routes count their calls, and the count must not move.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Vial } from '../src/index.ts';
import type { RunningServer } from '../src/app.ts';
import { makeApp } from './helpers/both.ts';
import { rawRequest } from './helpers/raw.ts';
import type { RawResponse } from './helpers/raw.ts';

const calls = { n: 0 };

function framingApp(): Vial {
  const app = makeApp({ env: 'development', security: { session: { store: 'memory' } } });
  // A synchronous GET handler takes the fast path (no hook, no promise); it counts too.
  app.get('/count', () => {
    calls.n++;
    return 'counted';
  });
  // State changes without reading the body: only a check before the handler can stop it.
  app.post('/count', () => {
    calls.n++;
    return 'counted';
  });
  // State changes after reading the body: a broken body must stop it.
  app.post('/read', async (ctx) => {
    const body = await ctx.request.text();
    calls.n++;
    return { length: body.length };
  });
  return app;
}

let app: Vial;
let running: RunningServer;

before(async () => {
  app = framingApp();
  running = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(() => running.close());

async function send(request: string): Promise<RawResponse> {
  return rawRequest(running.port, Buffer.from(request, 'latin1'));
}

/** Sends `request`; the status must be `status` and the counted handlers must not have run. */
async function refused(request: string, status: number, what: string): Promise<RawResponse> {
  const before = calls.n;
  const res = await send(request);
  assert.equal(res.status, status, `${what}: ${res.raw.slice(0, 400)}`);
  assert.equal(calls.n, before, `${what}: no handler ran`);
  assert.doesNotMatch(res.body, /HPE_|Parse Error|node:internal/, `${what}: no parser internals in the body`);
  if (res.header('content-type')?.startsWith('application/json') === true) {
    assert.equal((JSON.parse(res.body) as { error: { status: number } }).error.status, status, what);
  }
  return res;
}

async function accepted(request: string, what: string): Promise<RawResponse> {
  const before = calls.n;
  const res = await send(request);
  assert.equal(res.status, 200, `${what}: ${res.raw.slice(0, 400)}`);
  assert.equal(calls.n, before + 1, `${what}: the handler ran once`);
  return res;
}

const post = (path: string, headers: string, body = ''): string => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}Connection: close\r\n\r\n${body}`;
const CHUNKED_HELLO = '5\r\nhello\r\n0\r\n\r\n';

describe('Transfer-Encoding: chunked must be the final coding, exactly once (RFC 9112 §6.3, §7.1)', () => {
  const cases: ReadonlyArray<readonly [string, string, number]> = [
    ['Transfer-Encoding: xchunked\r\n', 'an unknown coding that merely contains "chunked"', 400],
    ['Transfer-Encoding: identity\r\n', 'identity alone (removed by RFC 7230)', 400],
    ['Transfer-Encoding: chunked, gzip\r\n', 'chunked not last (gunicorn chunked_06)', 400],
    ['Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n', 'chunked then identity in two fields (gunicorn chunked_08)', 400],
    ['Transfer-Encoding: chunked, chunked\r\n', 'chunked twice', 400],
    ['Transfer-Encoding: identity, chunked, identity, chunked\r\n', 'a list with chunked twice (gunicorn chunked_03)', 400],
    ['Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n', 'four fields (gunicorn chunked_04)', 400],
    ['Transfer-Encoding: ,chunked\r\n', 'an empty list element', 400],
    ['Transfer-Encoding: chunked\r\nContent-Length: 3\r\n', 'Transfer-Encoding with Content-Length (smuggling, RFC 9112 §6.3 (3))', 400],
    ['Content-Length: 12\r\nTransfer-Encoding: \tchunked\r\n', 'a tab before chunked, with Content-Length (gunicorn chunked_02)', 400],
    ['Transfer-Encoding: gzip, chunked\r\n', 'a coding vial does not decode before chunked (RFC 9112 §6.1: 501)', 501],
    ['Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n', 'gzip and chunked in two fields', 501],
  ];
  for (const [headers, what, status] of cases) {
    it(`answers ${status} to ${what}, before the handler runs`, async () => {
      await refused(post('/count', headers, CHUNKED_HELLO), status, what);
    });
  }

  it('refuses them on the synchronous fast path too (a GET with no hooks)', async () => {
    await refused(`GET /count HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: xchunked\r\nConnection: close\r\n\r\n${CHUNKED_HELLO}`, 400, 'GET with xchunked');
    await refused(`GET /count HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${CHUNKED_HELLO}`, 501, 'GET with gzip, chunked');
  });

  it('answers with vial\'s JSON error, its code, and closes the connection', async () => {
    const res = await refused(post('/count', 'Transfer-Encoding: xchunked\r\n', CHUNKED_HELLO), 400, 'xchunked');
    assert.match(res.header('content-type') ?? '', /^application\/json/);
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'VIAL_ERR_TRANSFER_ENCODING');
    assert.equal(res.header('connection'), 'close');
  });

  it('refuses Transfer-Encoding on HTTP/1.0 (RFC 9112 §6.1; gunicorn chunked_05)', async () => {
    await refused(`POST /count HTTP/1.0\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_HELLO}`, 400, 'HTTP/1.0 chunked');
  });

  it('accepts chunked in any case (coding names are case-insensitive, RFC 9112 §7) and runs the handler once', async () => {
    await accepted(post('/count', 'Transfer-Encoding: chunked\r\n', CHUNKED_HELLO), 'chunked');
    await accepted(post('/count', 'Transfer-Encoding: Chunked\r\n', CHUNKED_HELLO), 'Chunked');
    const res = await accepted(post('/read', 'Transfer-Encoding: chunked\r\n', CHUNKED_HELLO), 'chunked body read');
    assert.deepEqual(JSON.parse(res.body), { length: 5 });
  });
});

describe('broken chunk syntax never reaches a handler that reads the body (gunicorn chunked_*)', () => {
  const bodies: ReadonlyArray<readonly [string, string]> = [
    ['5\r\nhello\r\n6_0\r\n world\r\n0\r\n\r\n', 'an underscore in a chunk size (chunked_01)'],
    ['5\r\nhello\r\n0 \r\n\r\n', 'whitespace after the size without an extension (chunked_09)'],
    ['5\r\nhello\r\n 0\r\n\r\n', 'whitespace before the size (chunked_10)'],
    ['5\n;\r\nhello\r\n0\r\n\r\n', 'a bare LF after the size (chunked_11)'],
    [' ;foo=bar\r\nhello\r\n0\r\n\r\n', 'an extension without a size (chunked_12)'],
    ['\r\nhello\r\n0\r\n\r\n', 'an empty size line (chunked_13)'],
    ['5;ext=val\rue\r\nhello\r\n0\r\n\r\n', 'a bare CR in an extension (chunked_14)'],
    ['-5\r\nhello\r\n0\r\n\r\n', 'a minus sign in the size'],
    ['+5\r\nhello\r\n0\r\n\r\n', 'a plus sign in the size'],
  ];
  for (const [body, what] of bodies) {
    it(`answers 400 to ${what}`, async () => {
      await refused(post('/read', 'Transfer-Encoding: chunked\r\n', body), 400, what);
    });
  }
});

describe('the HTTP version on the request line (RFC 9110 §15.6.6; gunicorn version_*, Go)', () => {
  const unsupported: ReadonlyArray<readonly [string, string]> = [
    ['HTTP/2.0', 'HTTP/2.0 as text (gunicorn version_02)'],
    ['HTTP/0.9', 'HTTP/0.9 with headers (Go: 505)'],
    ['HTTP/1.2', 'a minor version vial does not speak'],
    ['HTTP/3.0', 'HTTP/3.0 as text'],
  ];
  for (const [version, what] of unsupported) {
    it(`answers 505 to ${what}, also on the fast path`, async () => {
      await refused(`GET /count ${version}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, 505, `GET ${version}`);
      await refused(`POST /count ${version}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 505, `POST ${version}`);
    });
  }

  const malformed: ReadonlyArray<readonly [string, string]> = [
    ['HTTP/111', 'no dot (gunicorn 018)'],
    ['HTTP/0.99', 'two minor digits (gunicorn version_01)'],
    ['FTP/1.1', 'another protocol name (gunicorn 004)'],
    [`HTTP/${'1'.repeat(80)}.1`, 'an endless major version (gunicorn prefix_06)'],
  ];
  for (const [version, what] of malformed) {
    it(`answers 400 to a malformed version: ${what}`, async () => {
      await refused(`POST /count ${version}\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n`, 400, what);
    });
  }

  it('serves HTTP/1.0 without a Host header and HTTP/1.1 with one', async () => {
    await accepted('GET /count HTTP/1.0\r\n\r\n', 'HTTP/1.0 without Host');
    await accepted('GET /count HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 'HTTP/1.1');
  });
});

describe('Host syntax: uri-host [":" port] (RFC 9110 §7.2; Go TestServerValidatesHostHeader)', () => {
  const bad: ReadonlyArray<readonly [string, string]> = [
    ['', 'an empty Host (RFC 9110 §4.2.1: an http URI needs a host)'],
    ['a b', 'a space'],
    ['a/b@c', 'a path and userinfo'],
    ['user@app.example', 'userinfo'],
    ['{', 'a brace (Go)'],
    ['}', 'a closing brace (Go)'],
    ['::1', 'an IPv6 address without brackets'],
    ['app.example:99999', 'a port over 65535'],
    ['app.example:', 'an empty port'],
    ['app.example:80:80', 'two ports'],
    ['app.example:8a', 'a port with a letter'],
    ['a%2fb', 'percent-encoding'],
    ['a!b', 'a sub-delim'],
    ['\u00ff', 'a byte above ASCII (Go)'],
  ];
  for (const [host, what] of bad) {
    it(`answers 400 to a Host with ${what}: ${JSON.stringify(host)}`, async () => {
      await refused(`POST /count HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 400, what);
    });
  }

  it('answers 400 VIAL_ERR_BAD_HOST on the fast path too', async () => {
    const res = await refused('GET /count HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n', 400, 'GET with a bad Host');
    assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'VIAL_ERR_BAD_HOST');
  });

  const good = ['1.2.3.4', 'foo.com', 'foo-bar_baz.com', 'foo.com:80', '[::1]', '[::1]:80', '[::1%25en0]:80', 'localhost:5000', 'APP.Example.'];
  for (const host of good) {
    it(`serves a well-formed Host: ${host}`, async () => {
      await accepted(`GET /count HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, host);
    });
  }
});
