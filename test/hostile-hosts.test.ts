/**
 * Hosts and proxies (issue 13, class 4): allowedHosts as Django's ALLOWED_HOSTS (required in
 * production), and trustProxy (a hop count or CIDR list; X-Forwarded-For/-Proto/-Host and RFC
 * 7239 Forwarded; off by default) feeding request.ip, request.protocol, request.host, the CSRF
 * origin and the allowed-host check. The pure parts without a server, the rest over real sockets
 * (the peer address is part of the decision).
 */
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { resolveConfig } from '../src/config.ts';
import type { Vial, VialOptions } from '../src/index.ts';
import { TestClient } from '../src/testing.ts';
import { createHostMatcher, parseHost, resolveAllowedHosts } from '../src/security/hosts.ts';
import { createProxyTrust, parseForwarded, resolveTrustProxy } from '../src/security/proxy.ts';
import type { TrustProxyOption } from '../src/security/proxy.ts';
import { makeApp } from './helpers/both.ts';
import { rawRequest } from './helpers/raw.ts';

function fakeRequest(peer: string, headers: Record<string, string>): IncomingMessage {
  return { socket: { remoteAddress: peer }, headers } as unknown as IncomingMessage;
}

function view(trust: TrustProxyOption, peer: string, headers: Record<string, string>): { ip: string | undefined; protocol: string; host: string | undefined } {
  return createProxyTrust(resolveTrustProxy(trust, undefined)).view(fakeRequest(peer, { host: 'internal:8080', ...headers }));
}

describe('allowedHosts: the policy (pure)', () => {
  it('matches exact names, a leading-dot domain with its subdomains, and * ; case and port do not matter', () => {
    const allowed = createHostMatcher(resolveAllowedHosts(['App.Example', '.example.org', '127.0.0.1', '[::1]']));
    const host = (value: string): boolean => allowed((parseHost(value) as { hostname: string }).hostname);
    assert.equal(host('app.example'), true);
    assert.equal(host('APP.example:8443'), true);
    assert.equal(host('app.example.'), true, 'a trailing dot is the same name');
    assert.equal(host('example.org'), true);
    assert.equal(host('deep.sub.example.org'), true);
    assert.equal(host('badexample.org'), false, 'a suffix without the dot is another domain');
    assert.equal(host('app.example.evil'), false);
    assert.equal(host('127.0.0.1:5000'), true);
    assert.equal(host('[::1]:80'), true);
    assert.equal(host('evil.example'), false);
    assert.equal(createHostMatcher(['*'])('anything.at.all'), true);
  });

  it('refuses entries that are not host names at startup (scheme, port, path, empty list)', () => {
    for (const entry of ['https://app.example', 'app.example:443', 'app.example/x', 'a b', '']) {
      assert.throws(() => resolveAllowedHosts([entry]), { code: 'VIAL_ERR_CONFIG' }, entry);
    }
    assert.throws(() => resolveConfig({ allowedHosts: [] }, {}), { code: 'VIAL_ERR_CONFIG' });
  });

  it('is required in production: origin or an explicit list, else VIAL_ERR_ALLOWED_HOSTS at new Vial()', () => {
    assert.throws(() => resolveConfig({ env: 'production' }, {}), { code: 'VIAL_ERR_ALLOWED_HOSTS' });
    assert.deepEqual(resolveConfig({ env: 'production', origin: 'https://App.Example:8443' }, {}).allowedHosts, ['app.example']);
    assert.deepEqual(resolveConfig({ env: 'production' }, { VIAL_ALLOWED_HOSTS: 'a.example, .b.example' }).allowedHosts, ['a.example', '.b.example']);
    assert.deepEqual(resolveConfig({ env: 'production', allowedHosts: ['*'] }, {}).allowedHosts, ['*']);
    assert.equal(resolveConfig({ env: 'development' }, {}).allowedHosts, undefined, 'development serves any well-formed Host');
  });
});

describe('trustProxy: the chain (pure)', () => {
  it('resolves false, true, a hop count, a list and VIAL_TRUST_PROXY once, and refuses bad entries', () => {
    assert.deepEqual(resolveTrustProxy(undefined, undefined), { kind: 'none' });
    assert.deepEqual(resolveTrustProxy(false, '1'), { kind: 'none' }, 'the option wins over the environment');
    assert.deepEqual(resolveTrustProxy(true, undefined), { kind: 'hops', hops: 1 });
    assert.deepEqual(resolveTrustProxy(undefined, '2'), { kind: 'hops', hops: 2 });
    assert.deepEqual(resolveTrustProxy(undefined, '10.0.0.0/8, 127.0.0.1'), { kind: 'list', ranges: ['10.0.0.0/8', '127.0.0.1'] });
    for (const bad of [['10.0.0.0/33'], ['proxy.internal'], ['10.0.0.0/'], ['::1/129']]) {
      assert.throws(() => resolveTrustProxy(bad, undefined), { code: 'VIAL_ERR_CONFIG' }, bad.join());
    }
    assert.throws(() => resolveTrustProxy(1.5, undefined), { code: 'VIAL_ERR_CONFIG' });
  });

  it('ignores every forwarding header when off (the default)', () => {
    const seen = view(false, '203.0.113.7', { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', forwarded: 'for=6.6.6.6;proto=https' });
    assert.deepEqual(seen, { ip: '203.0.113.7', protocol: 'http', host: 'internal:8080' });
  });

  it('with a hop count, takes the address that many hops from the socket, never a client-written one further left', () => {
    const headers = { 'x-forwarded-for': '6.6.6.6, 198.51.100.1, 10.0.0.2', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'app.example' };
    assert.deepEqual(view(1, '10.0.0.1', headers), { ip: '10.0.0.2', protocol: 'https', host: 'app.example' });
    assert.equal(view(2, '10.0.0.1', headers).ip, '198.51.100.1');
    assert.equal(view(true, '10.0.0.1', headers).ip, '10.0.0.2', 'true is one hop');
  });

  it('with a CIDR list, walks trusted proxies and stops at the first untrusted address', () => {
    const trust = ['127.0.0.1', '10.0.0.0/8'];
    const headers = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.2.3', 'x-forwarded-proto': 'https' };
    assert.deepEqual(view(trust, '127.0.0.1', headers), { ip: '203.0.113.9', protocol: 'https', host: 'internal:8080' });
    assert.equal(view(trust, '::ffff:127.0.0.1', headers).ip, '203.0.113.9', 'an IPv4-mapped peer is the IPv4 address');
    assert.deepEqual(view(trust, '203.0.113.5', headers), { ip: '203.0.113.5', protocol: 'http', host: 'internal:8080' }, 'an untrusted peer: headers ignored');
  });

  it('reads RFC 7239 Forwarded alone when present: quoted IPv6 with port, proto and host of the outermost trusted hop', () => {
    const forwarded = 'for=192.0.2.60;proto=https;host=app.example, for="[2001:db8:cafe::17]:4711"';
    assert.deepEqual(parseForwarded(forwarded), [
      { for: '192.0.2.60', proto: 'https', host: 'app.example' },
      { for: '[2001:db8:cafe::17]:4711', proto: undefined, host: undefined },
    ]);
    const headers = { forwarded, 'x-forwarded-for': '6.6.6.6', 'x-forwarded-host': 'evil.example' };
    assert.deepEqual(view(2, '10.0.0.1', headers), { ip: '192.0.2.60', protocol: 'https', host: 'app.example' });
    assert.equal(view(1, '10.0.0.1', headers).ip, '2001:db8:cafe::17');
  });

  it('stops at "unknown" or an obfuscated identifier, and ignores a proto that is neither http nor https', () => {
    assert.equal(view(2, '10.0.0.1', { forwarded: 'for=198.51.100.3, for=unknown' }).ip, '10.0.0.1');
    assert.equal(view(2, '10.0.0.1', { forwarded: 'for=_hidden' }).ip, '10.0.0.1');
    assert.equal(view(1, '10.0.0.1', { 'x-forwarded-proto': 'javascript' }).protocol, 'http');
  });
});

const calls = { n: 0 };

function hostApp(options: VialOptions): Vial {
  const app = makeApp({ env: 'development', ...options, security: { session: { store: 'memory' } } });
  app.get('/edge', (ctx) => ({ ip: ctx.request.ip ?? null, protocol: ctx.request.protocol, host: ctx.request.host ?? null, origin: ctx.request.origin ?? null }));
  app.post('/change', () => {
    calls.n++;
    return 'changed';
  });
  return app;
}

async function listen(t: TestContext, app: Vial): Promise<number> {
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => running.close());
  return running.port;
}

function request(method: string, path: string, headers: Record<string, string>): string {
  const lines = [`${method} ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Content-Length: 0', 'Connection: close'];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

describe('allowedHosts through a real server', () => {
  it('answers 400 VIAL_ERR_HOST_NOT_ALLOWED to another Host before any handler runs, and serves its own', async (t) => {
    const port = await listen(t, hostApp({ allowedHosts: ['app.example', '.example.org'] }));
    for (const host of ['evil.example', 'app.example.evil', 'badexample.org', '127.0.0.1']) {
      const before = calls.n;
      const res = await rawRequest(port, request('POST', '/change', { Host: host }));
      assert.equal(res.status, 400, `${host}: ${res.raw}`);
      assert.equal((JSON.parse(res.body) as { error: { code: string } }).error.code, 'VIAL_ERR_HOST_NOT_ALLOWED', host);
      assert.equal(calls.n, before, `${host}: no handler ran`);
    }
    for (const host of ['app.example', 'APP.example:8443', 'www.example.org', 'example.org']) {
      const res = await rawRequest(port, request('POST', '/change', { Host: host }));
      assert.equal(res.status, 200, `${host}: ${res.raw}`);
    }
  });

  it('judges every Host afresh after one was accepted (the last-accepted shortcut admits only that exact string)', async (t) => {
    const port = await listen(t, hostApp({ allowedHosts: ['app.example'] }));
    for (const [host, status] of [
      ['app.example', 200],
      ['app.example', 200],
      ['evil.example', 400],
      ['app.example', 200],
      ['app.example.', 200],
      ['app.example:99999', 400],
      ['app.example', 200],
    ] as const) {
      const res = await rawRequest(port, request('POST', '/change', { Host: host }));
      assert.equal(res.status, status, `${host}: ${res.raw}`);
    }
  });

  it('in production defaults to the host of origin, which the test client sends', async (t) => {
    const app = hostApp({ env: 'production', origin: 'https://app.example', security: { session: { store: 'memory' } } });
    const client = new TestClient(app);
    assert.equal((await client.get('/edge')).status, 200);
    assert.equal((await client.get('/edge', { headers: { host: 'evil.example' } })).status, 400);
    const port = await listen(t, app);
    const res = await rawRequest(port, request('GET', '/edge', { Host: 'rebound.attacker.example' }));
    assert.equal(res.status, 400, 'DNS rebinding: a name the app never had');
  });
});

describe('trustProxy through a real server', () => {
  it('is off by default: request.ip is the socket peer and X-Forwarded-* change nothing', async (t) => {
    const port = await listen(t, hostApp({}));
    const res = await rawRequest(port, request('GET', '/edge', { Host: 'app.example', 'X-Forwarded-For': '6.6.6.6', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example' }));
    assert.deepEqual(JSON.parse(res.body), { ip: '127.0.0.1', protocol: 'http', host: 'app.example', origin: 'http://app.example' });
  });

  it('feeds request.ip, .protocol, .host and .origin from a trusted proxy', async (t) => {
    const port = await listen(t, hostApp({ trustProxy: ['127.0.0.1'], allowedHosts: ['app.example'] }));
    const res = await rawRequest(port, request('GET', '/edge', { Host: 'internal:8080', 'X-Forwarded-For': '6.6.6.6, 203.0.113.9', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'app.example' }));
    assert.deepEqual(JSON.parse(res.body), { ip: '203.0.113.9', protocol: 'https', host: 'app.example', origin: 'https://app.example' });
  });

  it('checks the forwarded host against allowedHosts (Host poisoning through the proxy)', async (t) => {
    const port = await listen(t, hostApp({ trustProxy: 1, allowedHosts: ['app.example'] }));
    const before = calls.n;
    const poisoned = await rawRequest(port, request('POST', '/change', { Host: 'app.example', 'X-Forwarded-Host': 'evil.example' }));
    assert.equal(poisoned.status, 400, poisoned.raw);
    const malformed = await rawRequest(port, request('POST', '/change', { Host: 'app.example', Forwarded: 'for=1.2.3.4;host="a b"' }));
    assert.equal(malformed.status, 400, malformed.raw);
    assert.equal((JSON.parse(malformed.body) as { error: { code: string } }).error.code, 'VIAL_ERR_BAD_HOST');
    assert.equal(calls.n, before, 'no handler ran');
  });

  it('gives CSRF the scheme the client used: an https Origin passes behind a TLS proxy, an http one does not', async (t) => {
    const port = await listen(t, hostApp({ trustProxy: 1, allowedHosts: ['app.example'] }));
    const behindTls = { Host: 'app.example', 'X-Forwarded-Proto': 'https' };
    assert.equal((await rawRequest(port, request('POST', '/change', { ...behindTls, Origin: 'https://app.example' }))).status, 200);
    assert.equal((await rawRequest(port, request('POST', '/change', { ...behindTls, Origin: 'http://app.example' }))).status, 403);
  });

  it('without a trusted proxy, compares the Origin scheme with the connection: https Origin on plain http is refused', async (t) => {
    const port = await listen(t, hostApp({}));
    const before = calls.n;
    const res = await rawRequest(port, request('POST', '/change', { Host: 'app.example', Origin: 'https://app.example' }));
    assert.equal(res.status, 403, res.raw);
    assert.equal(calls.n, before);
    assert.equal((await rawRequest(port, request('POST', '/change', { Host: 'app.example', Origin: 'http://app.example' }))).status, 200);
  });
});
