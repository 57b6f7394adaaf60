/** The overload scenario's synchronous route (`BENCH_OVERLOAD_ROUTE=/cpu`) spins this long per request. */
export const CPU_ROUTE_MS = 0.3;

/** A CPU-bound handler's body: spins on the current thread for `ms` (the blocking-route scenario). */
export function busyLoop(ms: number): number {
  const end = performance.now() + ms;
  let spins = 0;
  while (performance.now() < end) spins++;
  return spins;
}

/** The "little real work" of the overload scenario, serialised by each framework: ~7 KiB of JSON. */
export function workPayload(): { items: { id: number; name: string; price: number; tags: string[] }[] } {
  return { items: Array.from({ length: 100 }, (_, i) => ({ id: i, name: `item-${i}`, price: i * 1.5, tags: ['a', 'b'] })) };
}

/** The value stored per key by the memory scenario's routes (the same ~100 bytes everywhere). */
export function storedValue(key: string): string {
  return `${key}:${'v'.repeat(64)}`;
}
