/**
 * What each compression level costs and saves on a typical JSON reply, to choose the compression
 * plugin's defaults (docs/compression.md). `node bench/compression-levels.ts`
 */
import zlib from 'node:zlib';

const rows = Array.from({ length: 400 }, (_, i) => ({ id: i, name: `user ${i}`, email: `user${i}@example.com`, active: i % 3 === 0, score: (i * 37) % 101, tags: ['alpha', 'beta', 'gamma'].slice(0, (i % 3) + 1) }));
const body = Buffer.from(JSON.stringify({ rows }));
type Zstd = { zstdCompressSync?: (b: Buffer, o: object) => Buffer; constants: { ZSTD_c_compressionLevel?: number } };
const z = zlib as unknown as Zstd;

function measure(name: string, compress: () => Buffer, rounds = 200): void {
  let out = compress();
  const started = performance.now();
  for (let i = 0; i < rounds; i++) out = compress();
  const us = ((performance.now() - started) / rounds) * 1000;
  console.log(`${name.padEnd(10)} ${String(Math.round(us)).padStart(7)} us  ${((out.length / body.length) * 100).toFixed(1).padStart(5)} %`);
}

console.log(`${body.length} bytes of JSON, Node ${process.version}`);
for (const q of [1, 4, 5, 6, 11]) {
  measure(`br ${q}`, () => zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: q, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length } }), q === 11 ? 10 : 200);
}
for (const level of [1, 4, 6, 9]) measure(`gzip ${level}`, () => zlib.gzipSync(body, { level }));
const zstd = z.zstdCompressSync;
if (zstd !== undefined && z.constants.ZSTD_c_compressionLevel !== undefined) {
  const key = z.constants.ZSTD_c_compressionLevel;
  for (const level of [1, 3, 6]) measure(`zstd ${level}`, () => zstd(body, { params: { [key]: level } }));
}
