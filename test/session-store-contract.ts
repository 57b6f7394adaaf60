/**
 * One behaviour suite for every SessionStore. Each store's test file calls runStoreContract with
 * a factory; `advance` moves that store's clock (an injected one, or real time for Redis).
 */

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { SessionRecord, SessionStore } from '../src/security/stores/contract.ts';

export interface StoreHarness {
  readonly store: SessionStore;
  /** Moves the store's notion of time forward by at least `ms`. */
  advance(ms: number): Promise<void>;
  cleanup?(): Promise<void>;
}

const record = (over: Partial<SessionRecord> = {}): SessionRecord => ({ data: { n: 1 }, createdAt: 1_000, lastSeenAt: 2_000, ...over });

export function runStoreContract(name: string, make: () => Promise<StoreHarness>): void {
  describe(`${name} session store contract`, () => {
    let h: StoreHarness;
    beforeEach(async () => {
      h = await make();
    });
    afterEach(async () => {
      await h.store.close();
      await h.cleanup?.();
    });

    it('returns undefined for a key it never stored', async () => {
      assert.equal(await h.store.get('absent'), undefined);
    });

    it('round-trips data, user id and timestamps', async () => {
      const r = record({ data: { cart: [1, 2], nested: { a: 'b' } }, userId: 'u1' });
      await h.store.set('k1', r, 60_000);
      assert.deepEqual(await h.store.get('k1'), r);
    });

    it('round-trips a record without a user id', async () => {
      await h.store.set('k1', record(), 60_000);
      const got = await h.store.get('k1');
      assert.deepEqual(got, record());
      assert.equal(got !== undefined && 'userId' in got, false);
    });

    it('hands out copies, so mutating a loaded record changes nothing stored', async () => {
      await h.store.set('k1', record({ data: { list: [1] } }), 60_000);
      const first = await h.store.get('k1');
      (first?.data.list as number[]).push(2);
      assert.deepEqual((await h.store.get('k1'))?.data, { list: [1] });
    });

    it('replaces a record on a second set', async () => {
      await h.store.set('k1', record({ data: { v: 1 } }), 60_000);
      await h.store.set('k1', record({ data: { v: 2 }, lastSeenAt: 3_000 }), 60_000);
      assert.deepEqual(await h.store.get('k1'), record({ data: { v: 2 }, lastSeenAt: 3_000 }));
    });

    it('updates an existing record but never creates one through update', async () => {
      assert.equal(await h.store.update('k1', record(), 60_000), false);
      assert.equal(await h.store.get('k1'), undefined);
      await h.store.set('k1', record({ data: { v: 1 } }), 60_000);
      assert.equal(await h.store.update('k1', record({ data: { v: 2 } }), 60_000), true);
      assert.deepEqual((await h.store.get('k1'))?.data, { v: 2 });
      await h.store.destroy('k1');
      assert.equal(await h.store.update('k1', record({ data: { v: 3 } }), 60_000), false);
      assert.equal(await h.store.get('k1'), undefined);
    });

    it('does not update a record whose ttl ran out', async () => {
      await h.store.set('k1', record(), 200);
      await h.advance(300);
      assert.equal(await h.store.update('k1', record(), 60_000), false);
      assert.equal(await h.store.get('k1'), undefined);
    });

    it('destroys a record, and destroying an absent one is not an error', async () => {
      await h.store.set('k1', record(), 60_000);
      await h.store.destroy('k1');
      assert.equal(await h.store.get('k1'), undefined);
      await h.store.destroy('never-there');
    });

    it('keeps a record before its ttl runs out and drops it after', async () => {
      await h.store.set('short', record(), 200);
      await h.store.set('long', record(), 600_000);
      assert.notEqual(await h.store.get('short'), undefined);
      await h.advance(300);
      assert.equal(await h.store.get('short'), undefined);
      assert.notEqual(await h.store.get('long'), undefined);
    });

    it("destroys all of one user's sessions and no one else's", async () => {
      await h.store.set('a1', record({ userId: 'alice' }), 60_000);
      await h.store.set('a2', record({ userId: 'alice' }), 60_000);
      await h.store.set('b1', record({ userId: 'bob' }), 60_000);
      await h.store.set('anon', record(), 60_000);
      assert.equal(await h.store.destroyAllForUser?.('alice'), 2);
      assert.equal(await h.store.get('a1'), undefined);
      assert.equal(await h.store.get('a2'), undefined);
      assert.notEqual(await h.store.get('b1'), undefined);
      assert.notEqual(await h.store.get('anon'), undefined);
      assert.equal(await h.store.destroyAllForUser?.('alice'), 0);
    });

    it('does not count a session that moved to another user', async () => {
      await h.store.set('k', record({ userId: 'alice' }), 60_000);
      await h.store.set('k', record({ userId: 'bob' }), 60_000);
      assert.equal(await h.store.destroyAllForUser?.('alice'), 0);
      assert.notEqual(await h.store.get('k'), undefined);
    });

    it('returns 0 for a user with no sessions', async () => {
      assert.equal(await h.store.destroyAllForUser?.('nobody'), 0);
    });

    it('refuses a ttl that is not a positive integer', async () => {
      await assert.rejects(h.store.set('k', record(), 0), RangeError);
      await assert.rejects(h.store.set('k', record(), -5), RangeError);
      await assert.rejects(h.store.set('k', record(), 1.5), RangeError);
      assert.equal(await h.store.get('k'), undefined);
    });

    it('refuses data that is not JSON-serializable', async () => {
      await assert.rejects(h.store.set('k', record({ data: { big: 1n } }), 60_000), TypeError);
    });

    it('keeps keys of the base64url alphabet apart', async () => {
      await h.store.set('Ab-_', record({ data: { v: 'x' } }), 60_000);
      await h.store.set('ab-_', record({ data: { v: 'y' } }), 60_000);
      assert.deepEqual((await h.store.get('Ab-_'))?.data, { v: 'x' });
      assert.deepEqual((await h.store.get('ab-_'))?.data, { v: 'y' });
    });
  });
}
