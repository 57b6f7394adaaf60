/**
 * The conditional plugin (docs/conditional.md): weak ETags for buffered GET replies and the
 * answers that go with them (304 for If-None-Match / If-Modified-Since, 412 for a failed If-Match
 * or If-Unmodified-Since), plus `checkPreconditions` for handlers that change a resource.
 *
 *   new Vial({ conditional: { minBytes: 0 } });     // on by default (1 KiB); `conditional: false` turns it off
 *   app.get('/live', { etag: false }, handler);     // a route that opts out
 *
 * A handler that sets its own ETag or Last-Modified keeps them; the plugin only evaluates them.
 * Streams are left alone (the body is not known before it is sent).
 */
import type { Context } from '../context.ts';
import { ConfigError, HttpError } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import { VialResponse } from '../response.ts';
import type { HeaderMap } from '../response.ts';
import { evaluatePreconditions, weakEtag } from './validators.ts';
import type { Validators } from './validators.ts';
import type { ConditionalOptions } from './options.ts';
export type { ConditionalOptions } from './options.ts';

export { evaluatePreconditions, parseRange, weakEtag, fileEtag } from './validators.ts';

declare module '../handlers.ts' {
  interface RouteOptions {
    /** `false`: no weak ETag and no 304 on this route (the conditional plugin). */
    etag?: boolean;
  }
}


/** Headers a 304 keeps (RFC 9110 §15.4.5): what a cache needs to update its stored response. */
const KEPT_ON_304 = ['cache-control', 'content-location', 'date', 'etag', 'expires', 'last-modified', 'vary'];

function notModified(headers: HeaderMap): VialResponse {
  const kept: HeaderMap = {};
  for (const name of KEPT_ON_304) if (headers[name] !== undefined) kept[name] = headers[name];
  // Other headers that are not about the body (set-cookie, CORS, security headers) stay too.
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith('content-') && kept[name] === undefined) kept[name] = value;
  }
  return new VialResponse(null, 304, kept);
}

function validatorsOf(headers: HeaderMap): Validators {
  const etag = headers['etag'];
  const modified = headers['last-modified'];
  const lastModified = typeof modified === 'string' ? new Date(modified) : undefined;
  return {
    etag: typeof etag === 'string' ? etag : undefined,
    lastModified: lastModified !== undefined && !Number.isNaN(lastModified.getTime()) ? lastModified : undefined,
  };
}

/**
 * For a handler about to change a resource (PUT, PATCH, DELETE): throws a 412 when the request's
 * If-Match / If-Unmodified-Since do not hold for the resource's current validators. For GET/HEAD
 * it returns 304 when the client's copy is current, so a handler can skip building the reply.
 * ```ts
 * app.put('/docs/<id>', async (ctx) => {
 *   const doc = await load(ctx.params.id);
 *   checkPreconditions(ctx, { etag: doc.etag, lastModified: doc.updatedAt });  // 412 on a lost update
 *   ...
 * });
 * ```
 */
export function checkPreconditions(ctx: Context, validators: Validators, exists = true): 'ok' | 304 {
  const decision = evaluatePreconditions(ctx.request.method, ctx.request.headers, validators, exists);
  if (decision === 412) throw new HttpError(412, 'The resource changed since the version this request is conditional on; fetch it again.');
  return decision;
}

export const conditional = definePlugin<Required<ConditionalOptions>, ConditionalOptions>({
  name: 'conditional',
  options(input) {
    const minBytes = input?.minBytes ?? 1024;
    if (!Number.isSafeInteger(minBytes) || minBytes < 0) throw new ConfigError('VIAL_ERR_PLUGIN', `conditional: minBytes is a non-negative integer, got ${String(minBytes)}.`);
    return { minBytes };
  },
  setup(r, { minBytes }) {
    r.routeOption('etag', (value) => {
      if (typeof value !== 'boolean') throw new ConfigError('VIAL_ERR_ROUTE', 'The route option `etag` is true or false.');
    });
    r.perRoute((route) => {
      if ((route.method !== 'GET' && route.method !== 'HEAD') || route.options.etag === false) return undefined;
      return {
        // A reply below minBytes gets no ETag and, with no validator of its own (a plain reply has
        // no headers), nothing to evaluate: small plain replies keep the fast path.
        onResponseMinBytes: minBytes,
        onResponse: function conditionalGet(ctx: Context, response: VialResponse): VialResponse | undefined {
          if (response.status !== 200) return undefined;
          const body = response.body;
          const headers = response.headers;
          // One set with ctx.header() wins when the head is written; take it as the validator.
          const own = ctx.responseHeaders?.['etag'];
          if (typeof own === 'string') headers['etag'] = own;
          if (headers['etag'] === undefined && (typeof body === 'string' || body instanceof Uint8Array)) {
            const size = typeof body === 'string' ? body.length : body.byteLength;
            if (size >= minBytes) headers['etag'] = weakEtag(body);
          }
          const validators = validatorsOf(headers);
          if (validators.etag === undefined && validators.lastModified === undefined) return undefined;
          const decision = evaluatePreconditions(ctx.request.method, ctx.request.headers, validators);
          if (decision === 304) return notModified(headers);
          if (decision === 412) throw new HttpError(412, 'The resource is not in the state this request is conditional on.');
          return undefined;
        },
      };
    });
  },
});
