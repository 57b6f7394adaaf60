/**
 * An incoming X-Request-Id is kept only when a trusted proxy sent it and it is well formed
 * (1-128 of A-Z a-z 0-9 . _ -); otherwise the request gets a new id. In-process and over a socket.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { requestIdFor } from '../src/internal/request-id.ts';
import type { VialOptions } from '../src/index.ts';
import { both, connect, makeApp } from './helpers/both.ts';

function idApp(options: VialOptions) {
  const app = makeApp({ ...options, log: { requestIdHeader: 'always' } });
  app.get('/id', (ctx) => ({ id: ctx.id }));
  return app;
}

const EDGE_ID = 'edge-7f3a.b_2';

both('X-Request-Id from the edge', (mode) => {
  it('is kept from a trusted proxy (a hop count), in the body, the header and the logs', async (t) => {
    const conn = await connect(t, mode, idApp({ trustProxy: 1 }));
    const res = await conn.get('/id', { headers: { 'x-request-id': EDGE_ID } });
    assert.deepEqual(res.json(), { id: EDGE_ID });
    assert.equal(res.header('x-request-id'), EDGE_ID);
  });

  it('is kept from a proxy whose address trustProxy lists', async (t) => {
    const conn = await connect(t, mode, idApp({ trustProxy: ['127.0.0.1'] }));
    assert.deepEqual((await conn.get('/id', { headers: { 'x-request-id': EDGE_ID } })).json(), { id: EDGE_ID });
  });

  it('is replaced when no proxy is trusted: a client cannot choose its id', async (t) => {
    const conn = await connect(t, mode, idApp({}));
    const { id } = (await conn.get('/id', { headers: { 'x-request-id': EDGE_ID } })).json<{ id: string }>();
    assert.notEqual(id, EDGE_ID);
    assert.match(id, /^[0-9a-f]{10}-[0-9a-z]+$/);
  });

  it('is replaced when the peer is not one of the listed proxies', async (t) => {
    const conn = await connect(t, mode, idApp({ trustProxy: ['10.0.0.0/8'] }));
    assert.notEqual((await conn.get('/id', { headers: { 'x-request-id': EDGE_ID } })).json<{ id: string }>().id, EDGE_ID);
  });

  it('is replaced when malformed, even from a trusted proxy', async (t) => {
    const conn = await connect(t, mode, idApp({ trustProxy: 1 }));
    for (const bad of ['has space', '<script>', 'a'.repeat(129), 'quote"d', 'semi;colon']) {
      const { id } = (await conn.get('/id', { headers: { 'x-request-id': bad } })).json<{ id: string }>();
      assert.notEqual(id, bad);
    }
  });
});

describe('requestIdFor', () => {
  it('keeps 1 to 128 of A-Z a-z 0-9 . _ - from a trusted proxy, nothing else', () => {
    assert.equal(requestIdFor('550e8400-e29b-41d4-a716-446655440000', true), '550e8400-e29b-41d4-a716-446655440000');
    assert.equal(requestIdFor('a'.repeat(128), true), 'a'.repeat(128));
    assert.notEqual(requestIdFor('a'.repeat(128), false), 'a'.repeat(128));
    assert.notEqual(requestIdFor('', true), '');
    assert.notEqual(requestIdFor('a, b', true), 'a, b');
    const fresh = requestIdFor(['x', 'y'], true);
    assert.match(fresh, /^[0-9a-f]{10}-/);
  });
});
