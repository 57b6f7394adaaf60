/**
 * What the request context costs: the same await-heavy "request" run with and without an
 * AsyncLocalStorage scope around it, in one process, alternating, many rounds. CPU-bound and
 * in-process, so it is far less sensitive to a busy machine than an HTTP benchmark.
 *
 *   node bench/context-cost.ts                     # Node 24 (npm scripts pin it)
 *   node_modules/node22/bin/node bench/context-cost.ts
 *
 * Each "request" enters the scope (or not), awaits `depth` times (each await a resolved promise
 * and a function call, as handler code does), and reads the store after the awaits.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const storage = new AsyncLocalStorage<{ id: number }>();
const depth = Number(process.argv[2] ?? 10);
const perRound = 200_000;
const rounds = 9;

async function work(read: () => unknown): Promise<unknown> {
  let last: unknown;
  for (let i = 0; i < depth; i++) {
    await Promise.resolve(i);
    last = read();
  }
  return last;
}

const withStore = (): unknown => storage.getStore();
const withoutStore = (): unknown => undefined;

async function batch(useContext: boolean): Promise<number> {
  const started = process.hrtime.bigint();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < perRound; i++) {
    pending.push(useContext ? storage.run({ id: i }, work, withStore) : work(withoutStore));
    if (pending.length === 1000) {
      await Promise.all(pending);
      pending.length = 0;
    }
  }
  await Promise.all(pending);
  return Number(process.hrtime.bigint() - started) / perRound;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

await batch(true);
await batch(false); // warm-up both paths
const on: number[] = [];
const off: number[] = [];
for (let r = 0; r < rounds; r++) {
  // Alternate the order so drift on a shared machine lands on both sides.
  if (r % 2 === 0) {
    on.push(await batch(true));
    off.push(await batch(false));
  } else {
    off.push(await batch(false));
    on.push(await batch(true));
  }
}
const a = median(on);
const b = median(off);
console.log(`node ${process.version}, ${depth} awaits per request, ${rounds} rounds x ${perRound} requests`);
console.log(`without context: ${b.toFixed(0)} ns/request`);
console.log(`with context:    ${a.toFixed(0)} ns/request  (+${(a - b).toFixed(0)} ns, ${((a / b - 1) * 100).toFixed(1)}%)`);
