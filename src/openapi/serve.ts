/**
 * Serves the OpenAPI document and an offline docs page (Swagger UI from the swagger-ui-dist
 * package, served by vial itself: no CDN), for the schemas plugin's `openapi` option. The document
 * is built once at startup from the routes the plugin saw, so a schema without a JSON Schema form
 * stops the app there (VIAL_ERR_OPENAPI) rather than on the first request for it.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type { VialConfig } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { escapeHtml } from '../html.ts';
import type { PluginRegistrar, RouteView } from '../plugin.ts';
import { sendFile, VialResponse } from '../response.ts';
import { CSRF_FORM_FIELD, CSRF_HEADER } from '../security/csrf.ts';
import type { AnySchema } from '../schema/compile.ts';
import type { RouteSchema } from '../schema/types.ts';
import { loadConverters } from './convert.ts';
import { buildDocument } from './document.ts';
import type { DocumentedRoute, DocumentInfo, RouteDocs } from './document.ts';

export interface OpenApiInput {
  /** Where the document is served. Default `/openapi.json`. */
  readonly path?: string;
  /** Where the docs page is served (Swagger UI, offline); `false` for none. Default `/docs`. */
  readonly docsPath?: string | false;
  /** The document's `info`. Default: the app's name, version 0.0.0. */
  readonly info?: Partial<DocumentInfo>;
}

export interface OpenApiOptions {
  readonly path: string;
  readonly docsPath: string | false;
  readonly info: DocumentInfo;
}

export function resolveOpenApi(input: OpenApiInput | undefined, config: VialConfig): OpenApiOptions {
  const path = input?.path ?? '/openapi.json';
  const docsPath = input?.docsPath ?? '/docs';
  for (const [name, value] of [['path', path], ['docsPath', docsPath]] as const) {
    if (value !== false && (typeof value !== 'string' || !value.startsWith('/') || value.includes('<') || value.includes(':'))) {
      throw new ConfigError('VIAL_ERR_OPENAPI', `schemas: openapi.${name} is a plain path starting with "/" (no parameters), got ${JSON.stringify(value)}.`);
    }
  }
  const info: DocumentInfo = { title: config.name, version: '0.0.0', ...input?.info };
  if (typeof info.title !== 'string' || typeof info.version !== 'string') throw new ConfigError('VIAL_ERR_OPENAPI', 'schemas: openapi.info needs a string title and version.');
  return { path, docsPath, info };
}

/** The swagger-ui-dist files the page uses, by the name it asks for. */
const ASSETS = ['swagger-ui.css', 'swagger-ui-bundle.js', 'favicon-32x32.png'] as const;

function swaggerUiDir(): string {
  try {
    return dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
  } catch (error) {
    throw new ConfigError('VIAL_ERR_OPENAPI', `The docs page serves Swagger UI from the swagger-ui-dist package, which is not installed (${(error as Error).message}). Run npm install swagger-ui-dist, or set openapi.docsPath to false.`);
  }
}

/** The routes the document describes, as the schemas plugin saw them when the route table was built. */
export class OpenApiRoutes {
  readonly #routes: RouteView[] = [];
  add(route: RouteView): void {
    // GET's automatic HEAD is the same operation; buildDocument skips HEAD beside a GET anyway.
    if ((route.options as { openapi?: unknown }).openapi === false) return;
    this.#routes.push(route);
  }
  get list(): readonly RouteView[] {
    return this.#routes;
  }
}

function documented(route: RouteView, config: VialConfig): DocumentedRoute {
  const options = route.options as { schema?: RouteSchema; openapi?: RouteDocs; csrf?: boolean; maxBodyBytes?: number; timeoutMs?: number; rateLimit?: unknown };
  const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(route.method);
  return {
    method: route.method,
    path: route.path,
    name: route.name,
    blueprint: route.blueprint,
    schema: options.schema,
    docs: options.openapi,
    csrf: unsafe && config.security.csrf.enabled && options.csrf !== false,
    maxBodyBytes: options.maxBodyBytes ?? config.body.maxBytes,
    timeoutMs: options.timeoutMs ?? config.load.deadlines.requestTimeoutMs,
    rateLimited: options.rateLimit !== undefined && options.rateLimit !== false,
  };
}

export function serveOpenApi(r: PluginRegistrar, options: OpenApiOptions, routes: OpenApiRoutes): void {
  let body: string | undefined;
  r.onStartup(async (app) => {
    const list = routes.list.map((route) => documented(route, app.config));
    const schemas: AnySchema[] = list.flatMap((route) => {
      const s = route.schema ?? {};
      return [s.params, s.query, s.headers, s.body, ...Object.values(s.response ?? {})].filter((x): x is AnySchema => x !== undefined);
    });
    const converters = await loadConverters(schemas);
    const facts = { sessionCookie: app.config.security.session.cookieName, csrfHeader: CSRF_HEADER, csrfField: CSRF_FORM_FIELD };
    body = JSON.stringify(buildDocument(list, options.info, facts, converters));
  });
  const hidden = { openapi: false } as const;
  r.get(options.path, hidden, () => {
    // Built by the startup hook, which the app (and the test client) runs before any request.
    if (body === undefined) throw new ConfigError('VIAL_ERR_OPENAPI', 'The OpenAPI document is built in app.start(); call it before serving app.handler yourself.');
    return new VialResponse(body, 200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-cache' });
  });
  if (options.docsPath === false) return;
  const dir = swaggerUiDir();
  const base = options.docsPath.replace(/\/$/, '');
  const page = docsPage(options.info.title, `${base}/`, options.path);
  const init = `window.ui = SwaggerUIBundle({ url: ${JSON.stringify(options.path)}, dom_id: '#swagger-ui', deepLinking: true });\n`;
  r.get(options.docsPath, hidden, () => new VialResponse(page, 200, { 'content-type': 'text/html; charset=utf-8' }));
  r.get(`${base}/init.js`, hidden, () => new VialResponse(init, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-cache' }));
  for (const asset of ASSETS) {
    r.get(`${base}/${asset}`, hidden, () => sendFile(asset, { root: dir, maxAgeSec: 3600 }));
  }
}

function docsPage(title: string, assets: string, documentPath: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · API docs</title>
<link rel="icon" type="image/png" href="${assets}favicon-32x32.png">
<link rel="stylesheet" href="${assets}swagger-ui.css">
</head>
<body>
<noscript>The API docs need JavaScript; the document itself is at <a href="${escapeHtml(documentPath)}">${escapeHtml(documentPath)}</a>.</noscript>
<div id="swagger-ui"></div>
<script src="${assets}swagger-ui-bundle.js"></script>
<script src="${assets}init.js"></script>
</body>
</html>
`;
}
