/**
 * Static files: `app.plugin(staticFiles('/assets', dir, options))` (docs/static.md), one plugin per
 * mount. What it guarantees:
 *
 *   - never outside `dir`: the path is resolved and checked, symlinks included (realpath), and any
 *     segment starting with `.` (dotfiles, `.git`, `.env`) is a 404;
 *   - `index.html` for a directory (a 301 adds the trailing slash first, so relative links work);
 *   - a precompressed `.br` / `.gz` sibling when the client accepts it, with `Vary: Accept-Encoding`;
 *   - strong ETags and Last-Modified, 304 for If-None-Match / If-Modified-Since, single byte
 *     ranges with If-Range (206, 416);
 *   - `Cache-Control: immutable` for fingerprinted names (`app.3f9a1c2e.js`, `index-BxK3zQ9a.js`);
 *   - streamed with backpressure, and a bound on files open at once (503 + Retry-After past it).
 */
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Context } from '../context.ts';
import { ConfigError, HttpError, VialError } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import type { Plugin } from '../plugin.ts';
import { VialResponse } from '../response.ts';
import type { HeaderMap } from '../response.ts';
import { chooseEncoding } from '../compression/negotiate.ts';
import type { Encoding } from '../compression/negotiate.ts';
import { evaluatePreconditions, fileEtag, parseRange, rangeStillValid } from '../conditional/validators.ts';
import { contentTypeFor } from './mime.ts';

export interface StaticOptions {
  /** The file served for a directory. Default `index.html`; `false` for none (a directory is then a 404). */
  readonly index?: string | false;
  /** Serve `file.br` / `file.gz` when present and accepted. Default true. */
  readonly precompressed?: boolean;
  /** Cache-Control max-age for names that are not fingerprinted. Default 0 (revalidate with the ETag). */
  readonly maxAgeSec?: number;
  /** Names cached for a year as `immutable`. Default: a hash of 8+ characters before the extension. */
  readonly immutable?: RegExp | false;
  /** Files open at once for this mount; past it, 503 with Retry-After. Default 128. */
  readonly maxOpenFiles?: number;
  /** A route name for `urlFor(name, { file: 'app.css' })`. Default none. */
  readonly name?: string;
}

/** `name.<hash>.ext` or `name-<hash>.ext` (webpack, Vite, esbuild): 8+ characters with a digit. */
const FINGERPRINT = /[.-](?=[A-Za-z0-9_]*\d)[A-Za-z0-9_]{8,}\.[A-Za-z0-9]+$/;
const YEAR_SEC = 31_536_000;
const ENCODINGS: readonly { coding: Encoding; suffix: string }[] = [
  { coding: 'br', suffix: '.br' },
  { coding: 'gzip', suffix: '.gz' },
];

interface Found {
  readonly path: string;
  readonly info: Stats;
  readonly encoding: Encoding | undefined;
  readonly varies: boolean;
}

async function statFile(path: string): Promise<Stats | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() ? info : undefined;
  } catch {
    return undefined;
  }
}

function checkOptions(prefix: string, dir: string, o: StaticOptions): void {
  const bad = (message: string): ConfigError => new ConfigError('VIAL_ERR_STATIC', `staticFiles(${JSON.stringify(prefix)}): ${message}`);
  if (!/^\/[^<>*]*$/.test(prefix) || prefix.endsWith('/')) throw bad('the prefix starts with "/" and does not end with one, e.g. "/assets".');
  if (!isAbsolute(dir)) throw bad(`dir must be an absolute path, got "${dir}" (use fileURLToPath(new URL('./public', import.meta.url))).`);
  if (o.index !== undefined && o.index !== false && (o.index.includes('/') || o.index.startsWith('.'))) throw bad('index is a file name such as "index.html".');
  if (o.maxAgeSec !== undefined && (!Number.isSafeInteger(o.maxAgeSec) || o.maxAgeSec < 0)) throw bad('maxAgeSec is a non-negative integer.');
  if (o.maxOpenFiles !== undefined && (!Number.isSafeInteger(o.maxOpenFiles) || o.maxOpenFiles < 1)) throw bad('maxOpenFiles is a positive integer.');
}

/** A plugin that serves `dir` under `prefix`. Register one per folder. */
export function staticFiles(prefix: string, dir: string, options: StaticOptions = {}): Plugin<undefined, undefined> {
  checkOptions(prefix, dir, options);
  const root = resolve(dir);
  const index = options.index ?? 'index.html';
  const precompressed = options.precompressed ?? true;
  const immutable = options.immutable ?? FINGERPRINT;
  const revalidate = `public, max-age=${options.maxAgeSec ?? 0}`;
  const maxOpen = options.maxOpenFiles ?? 128;
  let open = 0;
  let realRoot: Promise<string> | undefined;
  /** Release functions of bodies made but never started (a HEAD, a replaced response): run at teardown. */
  const pending = new WeakMap<Context, () => void>();

  async function locate(rel: string, acceptEncoding: string | undefined): Promise<Found | 'directory' | undefined> {
    // Segments were decoded once by the router, which already refused `..`, `\` and encoded slashes.
    if (rel.includes('\0') || rel.includes('\\') || rel.split('/').some((s) => s.startsWith('.'))) return undefined;
    let path = resolve(root, `.${sep}${rel}`);
    const inside = (p: string, base: string): boolean => {
      const r = relative(base, p);
      return r === '' || (!r.startsWith('..') && !isAbsolute(r));
    };
    if (!inside(path, root)) return undefined;
    let info: Stats;
    try {
      info = await stat(path);
    } catch {
      return undefined;
    }
    if (info.isDirectory()) {
      if (index === false) return undefined;
      if (rel !== '' && !rel.endsWith('/')) return 'directory';
      path = join(path, index);
      const file = await statFile(path);
      if (file === undefined) return undefined;
      info = file;
    } else if (!info.isFile()) {
      return undefined;
    }
    // A symlink inside the folder may point anywhere: follow it and check again.
    const real = await realpath(path).catch(() => undefined);
    if (real === undefined || !inside(real, await (realRoot ??= realpath(root)))) return undefined;
    if (!precompressed) return { path, info, encoding: undefined, varies: false };
    const siblings = await Promise.all(ENCODINGS.map(async (e) => ({ ...e, info: await statFile(path + e.suffix) })));
    const available = siblings.filter((s) => s.info !== undefined);
    if (available.length === 0) return { path, info, encoding: undefined, varies: false };
    const coding = chooseEncoding(acceptEncoding, available.map((s) => s.coding));
    const chosen = available.find((s) => s.coding === coding);
    if (chosen === undefined) return { path, info, encoding: undefined, varies: true };
    return { path: path + chosen.suffix, info: chosen.info as Stats, encoding: chosen.coding, varies: true };
  }

  function body(ctx: Context, path: string, start: number, end: number): AsyncIterable<Uint8Array> {
    if (open >= maxOpen) {
      throw new VialError('VIAL_ERR_OVERLOADED', `Too many files are being sent at once (${maxOpen}); retry shortly.`, { status: 503, expose: true, headers: { 'retry-after': '1' } });
    }
    open++;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      open--;
      pending.delete(ctx);
    };
    pending.set(ctx, release);
    return {
      async *[Symbol.asyncIterator]() {
        pending.delete(ctx);
        const stream = createReadStream(path, { start, end, highWaterMark: 64 * 1024 });
        try {
          for await (const chunk of stream) yield chunk as Uint8Array;
        } finally {
          stream.destroy();
          release();
        }
      },
    };
  }

  async function serve(ctx: Context): Promise<VialResponse> {
    const request = ctx.request;
    const rel = typeof ctx.params['file'] === 'string' ? ctx.params['file'] : '';
    const found = await locate(rel, request.header('accept-encoding'));
    if (found === undefined) throw new HttpError(404, 'No file here.');
    if (found === 'directory') {
      const search = request.query.size === 0 ? '' : `?${request.query.toString()}`;
      return new VialResponse(null, 301, { location: `${encodeURI(`${prefix}/${rel}/`)}${search}` });
    }
    const { info } = found;
    const validators = { etag: fileEtag(info.size, info.mtimeMs, found.encoding), lastModified: info.mtime };
    const headers: HeaderMap = {
      etag: validators.etag,
      'last-modified': info.mtime.toUTCString(),
      'cache-control': immutable !== false && immutable.test(found.path.slice(0, found.encoding === undefined ? undefined : -3)) ? `public, max-age=${YEAR_SEC}, immutable` : revalidate,
      'accept-ranges': 'bytes',
    };
    if (found.varies) headers['vary'] = 'Accept-Encoding';
    const decision = evaluatePreconditions(request.method, request.headers, validators);
    if (decision === 304) return new VialResponse(null, 304, headers);
    if (decision === 412) throw new HttpError(412, 'The file changed since the version this request is conditional on.');
    // `.br` and `.gz` are both three characters: the type is the uncompressed file's.
    headers['content-type'] = contentTypeFor(found.encoding === undefined ? found.path : found.path.slice(0, -3));
    if (found.encoding !== undefined) headers['content-encoding'] = found.encoding;
    const range = rangeStillValid(request.headers, validators) ? parseRange(request.header('range'), info.size) : undefined;
    if (range === 'unsatisfiable') {
      return new VialResponse(null, 416, { ...headers, 'content-range': `bytes */${info.size}` });
    }
    if (info.size === 0) return new VialResponse(new Uint8Array(0), 200, { ...headers, 'content-length': '0' });
    const start = range?.start ?? 0;
    const end = range?.end ?? info.size - 1;
    headers['content-length'] = String(end - start + 1);
    if (range !== undefined) headers['content-range'] = `bytes ${start}-${end}/${info.size}`;
    return new VialResponse(body(ctx, found.path, start, end), range === undefined ? 200 : 206, headers);
  }

  const paths = new Set([`${prefix}/`, `${prefix}/<path:file>`]);
  return definePlugin<undefined, undefined>({
    name: `static ${prefix}`,
    setup(r) {
      // Arrow functions: a named handler would name both routes (and two mounts) the same.
      r.get(`${prefix}/`, (ctx) => serve(ctx));
      r.get(`${prefix}/<path:file>`, options.name === undefined ? {} : { name: options.name }, (ctx) => serve(ctx));
      r.perRoute((route) =>
        [...paths].some((path) => route.path.endsWith(path))
          ? {
              teardown: function releaseUnsentFile(ctx: Context): void {
                pending.get(ctx)?.();
              },
            }
          : undefined,
      );
    },
  });
}
