/** A whole route run in the worker-thread pool (`{ worker }`): it gets a snapshot of the request. */
import type { OffloadRequest } from '../../src/index.ts';

export default function primes(req: OffloadRequest): { n: number; count: number } {
  const n = Math.min(Number(new URLSearchParams(req.query).get('n') ?? 100_000), 5_000_000);
  let count = 0;
  for (let i = 2; i <= n; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++) {
      if (i % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return { n, count };
}
