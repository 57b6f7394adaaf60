/**
 * The WebSocket limits as pure pieces: options with bounds, the per-socket message rate, the
 * backpressure policy and the connection bulkheads. Time is a number the tests advance.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VialError } from '../src/errors.ts';
import { BackpressurePolicy, HARD_BOUND_FACTOR } from '../src/websocket/backpressure.ts';
import { ConnectionLimits } from '../src/websocket/limits.ts';
import { resolveRouteLimits, resolveWebSocketOptions, WEBSOCKET_DEFAULTS } from '../src/websocket/options.ts';
import { MessageRate } from '../src/websocket/rate.ts';

describe('websocket options', () => {
  it('turns every limit on by default, with permessage-deflate off', () => {
    const options = resolveWebSocketOptions();
    assert.equal(options.route.maxMessageBytes, 1024 * 1024);
    assert.equal(options.route.maxConnections, 1_000);
    assert.equal(options.route.maxMessagesPerSecond, 100);
    assert.equal(options.route.messageBurst, 200);
    assert.equal(options.route.maxBufferedBytes, 1024 * 1024);
    assert.equal(options.route.slowConsumerTimeoutMs, 10_000);
    assert.equal(options.route.idleTimeoutMs, 300_000);
    assert.equal(options.maxConnectionsPerProcess, 10_000);
    assert.equal(options.handshakeTimeoutMs, 10_000);
    assert.equal(options.pingIntervalMs, 30_000);
    assert.equal(options.shutdownGraceMs, 5_000);
    assert.equal(options.perMessageDeflate, false);
    assert.ok(Object.isFrozen(options) && Object.isFrozen(options.route));
  });

  it('offers permessage-deflate as an option, with bounded settings', () => {
    assert.deepEqual(resolveWebSocketOptions({ perMessageDeflate: true }).perMessageDeflate, WEBSOCKET_DEFAULTS.deflate);
    assert.equal((resolveWebSocketOptions({ perMessageDeflate: { level: 9 } }).perMessageDeflate as { level: number }).level, 9);
    assert.throws(() => resolveWebSocketOptions({ perMessageDeflate: { level: 12 } }), /perMessageDeflate\.level must be an integer from 1 to 9/);
  });

  it('refuses out-of-range and unknown options with a message naming them', () => {
    assert.throws(() => resolveWebSocketOptions({ maxMessageBytes: 0 }), (e: unknown) => e instanceof VialError && e.code === 'VIAL_ERR_WS_OPTIONS' && /maxMessageBytes/.test(e.message));
    assert.throws(() => resolveWebSocketOptions({ maxConnectionsPerProcess: 1.5 }), /maxConnectionsPerProcess must be an integer/);
    assert.throws(() => resolveWebSocketOptions({ maxMesageBytes: 10 } as never), /has no option "maxMesageBytes"/);
  });

  it('takes the CSRF trusted origins as allowed origins unless told otherwise, and refuses a path', () => {
    assert.deepEqual(resolveWebSocketOptions({}, ['https://admin.example']).allowedOrigins, ['https://admin.example']);
    assert.deepEqual(resolveWebSocketOptions({ allowedOrigins: ['https://app.example:8443'] }, ['https://admin.example']).allowedOrigins, ['https://app.example:8443']);
    assert.throws(() => resolveWebSocketOptions({ allowedOrigins: ['https://app.example/chat'] }), /not an exact origin/);
  });

  it('merges a route limit over the app defaults, and a new rate brings its own burst', () => {
    const app = resolveWebSocketOptions({ maxMessageBytes: 4096 }).route;
    const route = resolveRouteLimits({ maxMessagesPerSecond: 10 }, app);
    assert.equal(route.maxMessageBytes, 4096);
    assert.equal(route.maxMessagesPerSecond, 10);
    assert.equal(route.messageBurst, 20);
    assert.throws(() => resolveRouteLimits({ pingIntervalMs: 5 } as never, app), /has no option "pingIntervalMs"/);
  });
});

describe('message rate per socket', () => {
  it('lets a burst through, then refuses until tokens refill at the rate', () => {
    const rate = new MessageRate(10, 3, 0);
    assert.deepEqual([rate.take(0), rate.take(0), rate.take(0), rate.take(0)], [true, true, true, false]);
    assert.equal(rate.take(50), false, 'half a token after 50 ms at 10/s');
    assert.equal(rate.take(100), true, 'one token after 100 ms');
    assert.equal(rate.take(100), false);
  });

  it('never holds more than the burst however long the socket was quiet', () => {
    const rate = new MessageRate(100, 5, 0);
    assert.equal(rate.available(3_600_000), 5);
    for (let i = 0; i < 5; i++) assert.equal(rate.take(3_600_000), true);
    assert.equal(rate.take(3_600_000), false);
  });

  it('does not allow twice the rate across a window edge (a bucket, not a fixed window)', () => {
    const rate = new MessageRate(10, 10, 0);
    let passed = 0;
    // 40 messages in the 2 s around t=1 s: a fixed 1 s window would pass 20 in 200 ms here.
    for (let t = 900; t < 1_100; t += 5) if (rate.take(t)) passed++;
    assert.ok(passed <= 12, `${passed} passed`);
  });
});

describe('backpressure policy', () => {
  it('reads while the send buffer is within the bound and pauses above it', () => {
    const policy = new BackpressurePolicy(1_000, 5_000);
    assert.equal(policy.check(1_000, 0), 'read');
    assert.equal(policy.paused, false);
    assert.equal(policy.check(1_001, 10), 'pause');
    assert.equal(policy.paused, true);
    assert.equal(policy.deadline(), 5_010);
    assert.equal(policy.check(200, 20), 'read');
    assert.equal(policy.paused, false);
    assert.equal(policy.deadline(), undefined);
  });

  it('drops a consumer that stays above the bound past the timeout', () => {
    const policy = new BackpressurePolicy(1_000, 5_000);
    assert.equal(policy.check(2_000, 0), 'pause');
    assert.equal(policy.check(2_000, 4_999), 'pause');
    assert.equal(policy.check(2_000, 5_000), 'drop');
  });

  it('starts the timeout over once the buffer drained in between', () => {
    const policy = new BackpressurePolicy(1_000, 5_000);
    policy.check(2_000, 0);
    policy.check(10, 4_000);
    assert.equal(policy.check(2_000, 6_000), 'pause');
    assert.equal(policy.check(2_000, 10_999), 'pause');
  });

  it('drops at once a buffer past the hard bound', () => {
    const policy = new BackpressurePolicy(1_000, 60_000);
    assert.equal(policy.check(1_000 * HARD_BOUND_FACTOR + 1, 0), 'drop');
  });
});

describe('connection limits', () => {
  it('refuses a route past its bulkhead while other routes still get sockets', () => {
    const limits = new ConnectionLimits(100);
    const chat = limits.route('WS /chat', 2);
    const feed = limits.route('WS /feed', 2);
    assert.equal(limits.enter(chat), undefined);
    assert.equal(limits.enter(chat), undefined);
    assert.equal(limits.enter(chat), 'route-full');
    assert.equal(limits.enter(feed), undefined);
    limits.leave(chat);
    assert.equal(limits.enter(chat), undefined);
    assert.equal(limits.open, 3);
  });

  it('refuses every route past the process limit', () => {
    const limits = new ConnectionLimits(2);
    const a = limits.route('WS /a', 10);
    const b = limits.route('WS /b', 10);
    limits.enter(a);
    limits.enter(a);
    assert.equal(limits.enter(b), 'process-full');
  });

  it('refuses everything once closing', () => {
    const limits = new ConnectionLimits(10);
    const a = limits.route('WS /a', 10);
    limits.close();
    assert.equal(limits.enter(a), 'closing');
    assert.equal(limits.open, 0);
  });
});
