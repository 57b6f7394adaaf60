/**
 * The compression plugin (docs/compression.md): zstd, brotli and gzip from node:zlib, negotiated
 * from Accept-Encoding with q-values, for compressible types above a size threshold.
 *
 *   new Vial({ compression: { minBytes: 2048 } });   // on by default; `compression: false` turns it off
 *   app.get('/raw', { compress: false }, handler);   // a route that opts out
 *
 * Safe on by default because CSRF tokens are masked per response (BREACH). Replies under minBytes
 * never reach the hook (onResponseMinBytes), so small plain replies keep the fast path.
 *
 * CPU is bounded twice: buffered bodies are compressed on libuv's thread pool (never on the event
 * loop), at levels chosen by measurement (docs/compression.md), and at most `maxConcurrent` at
 * once; past that a reply goes out uncompressed rather than wait. Streams are compressed as they
 * flow, and text/event-stream is flushed after every event so the browser sees each one at once.
 * Never compressed: HEAD, 204/206/304, ranges, an existing Content-Encoding, `no-transform`,
 * and types that are compressed already (images, video, archives).
 */
import { once } from 'node:events';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { Transform } from 'node:stream';
import type { Context } from '../context.ts';
import { ConfigError } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import type { VialResponse } from '../response.ts';
import { chooseEncoding } from './negotiate.ts';
import type { Encoding } from './negotiate.ts';

export { chooseEncoding, parseAcceptEncoding } from './negotiate.ts';
export type { Encoding } from './negotiate.ts';
import type { CompressionOptions } from './options.ts';
export type { CompressionOptions } from './options.ts';

declare module '../handlers.ts' {
  interface RouteOptions {
    /** `false`: never compress this route's responses (the compression plugin). */
    compress?: boolean;
  }
}


interface Resolved {
  readonly minBytes: number;
  readonly encodings: readonly Encoding[];
  readonly maxConcurrent: number;
  readonly levels: { readonly br: number; readonly gzip: number; readonly zstd: number };
}

/** Node 22.15+ and 24 have zstd in node:zlib; older runtimes simply do not offer it. */
export const ZSTD_AVAILABLE = typeof (zlib as { createZstdCompress?: unknown }).createZstdCompress === 'function';

// Text and structured data compress; JPEG, PNG, video, fonts in WOFF2 and archives already are.
const COMPRESSIBLE = /^(?:text\/|application\/(?:json|javascript|ecmascript|xml|wasm|x-www-form-urlencoded|manifest\+json|[\w.-]+\+(?:json|xml))|image\/(?:svg\+xml|x-icon|bmp)|font\/(?:ttf|otf))/i;

export function isCompressible(contentType: string | undefined): boolean {
  return contentType !== undefined && COMPRESSIBLE.test(contentType);
}

function inRange(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new ConfigError('VIAL_ERR_PLUGIN', `compression: ${name} is an integer from ${min} to ${max}, got ${String(value)}.`);
  return value;
}

function resolve(input: CompressionOptions | undefined): Resolved {
  const o = input ?? {};
  const encodings = o.encodings ?? (ZSTD_AVAILABLE ? ['zstd', 'br', 'gzip'] : ['br', 'gzip']);
  for (const e of encodings) {
    if (e !== 'br' && e !== 'gzip' && e !== 'zstd') throw new ConfigError('VIAL_ERR_PLUGIN', `compression: unknown encoding "${String(e)}"; use br, zstd or gzip.`);
    if (e === 'zstd' && !ZSTD_AVAILABLE) throw new ConfigError('VIAL_ERR_PLUGIN', `compression: this Node (${process.version}) has no zstd; leave it out of encodings or use Node 22.15+.`);
  }
  return {
    minBytes: inRange('minBytes', o.minBytes ?? 1024, 0, 1 << 30),
    encodings,
    maxConcurrent: inRange('maxConcurrent', o.maxConcurrent ?? 4, 1, 1024),
    levels: {
      br: inRange('levels.br', o.levels?.br ?? 4, 0, 11),
      gzip: inRange('levels.gzip', o.levels?.gzip ?? 4, 1, 9),
      zstd: inRange('levels.zstd', o.levels?.zstd ?? 1, 1, 19),
    },
  };
}

type ZstdZlib = typeof zlib & {
  zstdCompress: (buf: Buffer, options: object, cb: (e: Error | null, out: Buffer) => void) => void;
  createZstdCompress: (options: object) => Transform;
  constants: typeof zlib.constants & { ZSTD_c_compressionLevel: number; ZSTD_e_flush: number };
};

function codecs(levels: Resolved['levels']): Record<Encoding, { once: (buf: Buffer) => Promise<Buffer>; stream: () => Transform }> {
  const z = zlib as ZstdZlib;
  const brotli = (size?: number): zlib.BrotliOptions => ({
    params: { [zlib.constants.BROTLI_PARAM_QUALITY]: levels.br, ...(size === undefined ? {} : { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: size }) },
  });
  const brotliAsync = promisify(zlib.brotliCompress) as (buf: Buffer, o: zlib.BrotliOptions) => Promise<Buffer>;
  const gzipAsync = promisify(zlib.gzip) as (buf: Buffer, o: zlib.ZlibOptions) => Promise<Buffer>;
  const zstdOptions = (): object => ({ params: { [z.constants.ZSTD_c_compressionLevel]: levels.zstd } });
  return {
    br: { once: (buf) => brotliAsync(buf, brotli(buf.byteLength)), stream: () => zlib.createBrotliCompress(brotli()) },
    gzip: { once: (buf) => gzipAsync(buf, { level: levels.gzip }), stream: () => zlib.createGzip({ level: levels.gzip }) },
    zstd: {
      once: (buf) => new Promise((ok, fail) => z.zstdCompress(buf, zstdOptions(), (error, out) => (error === null ? ok(out) : fail(error)))),
      stream: () => z.createZstdCompress(zstdOptions()),
    },
  };
}

function appendVary(response: VialResponse): void {
  const vary = response.headers['vary'];
  const current = typeof vary === 'string' ? vary : Array.isArray(vary) ? vary.join(', ') : '';
  if (current === '*' || /(?:^|,)\s*accept-encoding\s*(?:,|$)/i.test(current)) return;
  response.headers['vary'] = current === '' ? 'Accept-Encoding' : `${current}, Accept-Encoding`;
}

/**
 * Compresses a stream as it flows. `flushEach` flushes after every chunk (server-sent events: one
 * chunk is one event). When the client leaves, the writer stops reading the compressor, which is
 * destroyed, and the source's `return()` runs so a generator can clean up.
 */
function compressStream(source: AsyncIterable<string | Uint8Array>, compressor: Transform, flushEach: boolean): Transform {
  const iterator = source[Symbol.asyncIterator]();
  compressor.once('close', () => {
    void iterator.return?.()?.catch(() => undefined);
  });
  (async () => {
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done === true || compressor.destroyed) break;
        if (!compressor.write(next.value)) await once(compressor, 'drain');
        if (flushEach) await new Promise<void>((ok) => (compressor as unknown as zlib.Zlib).flush(() => ok()));
      }
      if (!compressor.destroyed) compressor.end();
    } catch (error) {
      compressor.destroy(error as Error);
    }
  })().catch((error: unknown) => compressor.destroy(error as Error));
  return compressor;
}

export const compression = definePlugin<Resolved, CompressionOptions>({
  name: 'compression',
  options: resolve,
  setup(r, options) {
    const { minBytes, encodings, maxConcurrent } = options;
    const codec = codecs(options.levels);
    let running = 0;
    r.routeOption('compress', (value) => {
      if (typeof value !== 'boolean') throw new ConfigError('VIAL_ERR_ROUTE', 'The route option `compress` is true or false.');
    });
    r.perRoute((route) => {
      if (route.options.compress === false) return undefined;
      return {
        // Below minBytes the hook does nothing (not even Vary): small plain replies keep the fast path.
        onResponseMinBytes: minBytes,
        onResponse: async function compress(ctx: Context, response: VialResponse): Promise<void> {
          const status = response.status;
          if (ctx.request.method === 'HEAD' || status < 200 || status === 204 || status === 206 || status === 304) return;
          const headers = response.headers;
          const type = headers['content-type'];
          if (typeof type !== 'string' || !isCompressible(type)) return;
          if (headers['content-encoding'] !== undefined || headers['content-range'] !== undefined) return;
          const cacheControl = headers['cache-control'];
          if (typeof cacheControl === 'string' && /no-transform/i.test(cacheControl)) return;
          const body = response.body;
          if (body === null) return;
          const buffered = typeof body === 'string' || body instanceof Uint8Array;
          if (buffered && (typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength) < minBytes) return;
          // From here the answer depends on Accept-Encoding, whichever coding this client gets.
          appendVary(response);
          const coding = chooseEncoding(ctx.request.header('accept-encoding'), encodings);
          if (coding === undefined) return;
          if (buffered) {
            if (running >= maxConcurrent) return;
            running++;
            try {
              response.body = await codec[coding].once(typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength));
            } finally {
              running--;
            }
          } else {
            response.body = compressStream(body, codec[coding].stream(), /^text\/event-stream/i.test(type));
          }
          headers['content-encoding'] = coding;
          delete headers['content-length'];
          // The compressed bytes are another representation: a strong ETag must not match the
          // identity one. A weak one may (RFC 9110 §8.8.1: same meaning), and keeping it lets the
          // conditional plugin's 304s work whatever coding the client got.
          const etag = headers['etag'];
          if (typeof etag === 'string' && etag.startsWith('"')) headers['etag'] = `${etag.slice(0, -1)}-${coding}"`;
        },
      };
    });
  },
});
