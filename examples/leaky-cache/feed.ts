/**
 * Feeds one route of the leaky-cache example with unique keys:
 *
 *   node examples/leaky-cache/feed.ts leaky 100000 [concurrency=20] [base=http://127.0.0.1:5000]
 *
 * Each request stores a 200-character value under a new key, as a cache filled from user
 * input would. Only talks to the address you give it.
 */
const [route = 'leaky', countText = '100000', concurrencyText = '20', base = 'http://127.0.0.1:5000'] = process.argv.slice(2);
if (route !== 'leaky' && route !== 'bounded') throw new Error('usage: feed.ts leaky|bounded [count] [concurrency] [base URL]');
const count = Number(countText);
const concurrency = Number(concurrencyText);
const value = 'v'.repeat(200);
// A per-run prefix keeps keys unique across runs, so a second run grows the leak again.
const run = Date.now().toString(36);

let next = 0;
let failed = 0;
const started = performance.now();

async function worker(): Promise<void> {
  while (next < count) {
    const n = next++;
    const res = await fetch(`${base}/${route}?key=${run}-${n}&value=${value}`);
    if (!res.ok) failed++;
    await res.arrayBuffer();
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = (performance.now() - started) / 1000;
console.log(`${count} requests to /${route} in ${seconds.toFixed(1)} s (${Math.round(count / seconds)}/s), ${failed} failed`);
