/** GCRA on an injected clock (no sleeps), and the memory store's bound under a flood of keys. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, gcraStep } from '../src/ratelimit/gcra.ts';
import type { GcraPolicy } from '../src/ratelimit/gcra.ts';
import { ipKey } from '../src/ratelimit/keys.ts';
import { MemoryRateLimitStore } from '../src/ratelimit/memory-store.ts';

const tenPerMinute: GcraPolicy = { limit: 10, windowMs: 60_000 };

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('GCRA', () => {
  it('allows the whole limit at once from rest, then refuses, with the wait until one more fits', () => {
    const c = clock();
    const store = new MemoryRateLimitStore({ now: c.now, name: 'gcra-burst' });
    for (let i = 0; i < 10; i++) {
      const d = store.hit('k', tenPerMinute, 1);
      assert.equal(d.allowed, true, `request ${i + 1}`);
      assert.equal(d.remaining, 9 - i);
      assert.equal(d.resetMs, (i + 1) * 6_000);
    }
    const refused = store.hit('k', tenPerMinute, 1);
    assert.deepEqual(refused, { allowed: false, remaining: 0, resetMs: 60_000, retryAfterMs: 6_000 });
    void store.close();
  });

  it('lets one request through per interval after the burst: limit + span / interval in any span, no second burst', () => {
    const c = clock();
    const store = new MemoryRateLimitStore({ now: c.now, name: 'gcra-steady' });
    const allowedAt: number[] = [];
    // One attempt every 500 ms for five minutes.
    for (let t = 0; t < 300_000; t += 500) {
      if (store.hit('k', tenPerMinute, 1).allowed) allowedAt.push(t);
      c.advance(500);
    }
    for (const spanMs of [1_000, 6_000, 30_000, 60_000]) {
      for (const start of allowedAt) {
        const inSpan = allowedAt.filter((t) => t >= start && t < start + spanMs).length;
        assert.ok(inSpan <= 10 + Math.floor(spanMs / 6_000), `${inSpan} requests in the ${spanMs} ms from ${start} ms`);
      }
    }
    // After the first minute, never more than the limit per minute: the long-run rate is exact.
    const later = allowedAt.filter((t) => t >= 60_000);
    for (const start of later) assert.ok(later.filter((t) => t >= start && t < start + 60_000).length <= 10);
    // 10 at once, then one per 6 s: 10 + 49 over the remaining 294 s.
    assert.equal(allowedAt.length, 10 + 49);
    void store.close();
  });

  it('refills in proportion to the time that passed', () => {
    const c = clock();
    const store = new MemoryRateLimitStore({ now: c.now, name: 'gcra-refill' });
    for (let i = 0; i < 10; i++) store.hit('k', tenPerMinute, 1);
    c.advance(18_000);
    assert.equal(store.hit('k', tenPerMinute, 0).remaining, 3);
    c.advance(60_000);
    assert.equal(store.hit('k', tenPerMinute, 0).remaining, 10);
    // An empty bucket needs no entry.
    assert.equal(store.size, 0);
    void store.close();
  });

  it('fits exactly the limit when the interval is not a whole number of ms (1000 / 3)', () => {
    let tat: number | undefined;
    const policy = { limit: 3, windowMs: 1000 };
    const results = [1, 2, 3, 4].map(() => {
      const step = gcraStep(tat, 0, policy, 1);
      if (step.allowed) tat = step.tat;
      return step.allowed;
    });
    assert.deepEqual(results, [true, true, true, false]);
  });

  it('gives a unit back on a refund, never below an empty bucket', () => {
    const policy = { limit: 5, windowMs: 5_000 };
    const two = gcraStep(gcraStep(undefined, 0, policy, 1).tat, 0, policy, 1);
    const refunded = gcraStep(two.tat, 0, policy, -1);
    assert.equal(refunded.usedMs, 1_000);
    assert.equal(gcraStep(undefined, 0, policy, -1).usedMs, 0);
    assert.equal(decide(true, refunded.usedMs, policy, -1).remaining, 4);
  });
});

describe('memory rate-limit store', () => {
  it('stays bounded under a million distinct keys', () => {
    const store = new MemoryRateLimitStore({ maxEntries: 10_000, name: 'gcra-flood' });
    for (let i = 0; i < 1_000_000; i++) store.hit(`ip:10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}-${i}`, tenPerMinute, 1);
    assert.equal(store.size, 10_000);
    void store.close();
  });

  it('keeps a client that keeps coming while a flood of new keys goes through', () => {
    const store = new MemoryRateLimitStore({ maxEntries: 1_000, name: 'gcra-recent' });
    for (let i = 0; i < 10; i++) store.hit('attacker', tenPerMinute, 1);
    for (let i = 0; i < 100_000; i++) {
      store.hit(`flood-${i}`, tenPerMinute, 1);
      if (i % 100 === 0) assert.equal(store.hit('attacker', tenPerMinute, 1).allowed, false, `still limited after ${i} other keys`);
    }
    void store.close();
  });
});

describe('IP keys', () => {
  it('counts IPv6 clients by their /64 and IPv4-mapped addresses as IPv4', () => {
    assert.equal(ipKey('2001:db8:1:2:aaaa::1'), 'ip:2001:db8:1:2::/64');
    assert.equal(ipKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), 'ip:2001:db8:1:2::/64');
    assert.equal(ipKey('2001:db8::1'), 'ip:2001:db8:0:0::/64');
    assert.equal(ipKey('::ffff:192.0.2.7'), 'ip:192.0.2.7');
    assert.equal(ipKey('192.0.2.7'), 'ip:192.0.2.7');
    assert.equal(ipKey(undefined), 'ip:unknown');
  });
});
