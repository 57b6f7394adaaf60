/**
 * The schemas plugin: route schemas for params, query, headers, body and responses
 * (docs/schemas.md). Everything is compiled when the route table is built; a route without a
 * `schema` gets no hook at all and keeps the dispatcher's fast path.
 *
 * On a route with request schemas, the `beforeHandler` hook (after admission, CSRF and the before
 * hooks) reads the parts, validates each one and fills `ctx.valid`; a body that cannot be read is a
 * 400/413/415 problem, a request that reads but does not match is a 422 problem listing every issue
 * (src/schema/problem.ts). On a route with response schemas, the `onReply` hook checks what the
 * handler returned (development, test) or serializes it with fast-json-stringify (production).
 */
import type { Options as AjvOptions } from 'ajv';
import type { Context } from '../context.ts';
import { BadRequestError, ConfigError, statusText } from '../errors.ts';
import { definePlugin } from '../plugin.ts';
import type { PluginAppView, RouteView } from '../plugin.ts';
import { json, VialResponse } from '../response.ts';
import type { RouteDocs } from '../openapi/document.ts';
import { OpenApiRoutes, resolveOpenApi, serveOpenApi } from '../openapi/serve.ts';
import type { OpenApiInput, OpenApiOptions } from '../openapi/serve.ts';
import type { Outcome } from './compile.ts';
import { createCompilers } from './compile.ts';
import type { ValidationIssue } from './issues.ts';
import { problemResponse, summarize } from './problem.ts';
import { ResponseValidationError } from './response-error.ts';
import { compileRouteSchema } from './route.ts';
import type { CompiledResponse, CompiledRouteSchema, RequestPart } from './route.ts';
import type { RouteSchema, ValidParts } from './types.ts';

declare module '../context.ts' {
  interface ContextDecorations {
    /** The validated parts of this request (schemas plugin); typed per route from its `schema`. */
    readonly valid: ValidParts;
  }
}
declare module '../handlers.ts' {
  interface RouteOptions {
    /** Validation and types for this route's request and responses (schemas plugin, docs/schemas.md). */
    schema?: RouteSchema;
    /** How the route appears in the OpenAPI document; `false` leaves it out. */
    openapi?: RouteDocs | false;
  }
}

/** What a route's response schemas do: `check` the handler's reply (a 500 naming the field), `serialize` it, or nothing. */
export type ResponseMode = 'check' | 'serialize' | 'off';

export interface SchemasInput {
  /** Report every issue (up to 50) rather than the first. Default true. */
  readonly allErrors?: boolean;
  /** Extra ajv options (formats, keywords) for JSON Schemas; vial's own (strict, coercion) win. */
  readonly ajv?: Readonly<AjvOptions>;
  /** Default: `check` in development and test, `serialize` in production. */
  readonly responses?: ResponseMode;
  /** The problem `type` URI of a 422 (RFC 9457 §3.1.1). Default `about:blank`. */
  readonly problemType?: string;
  /** Serve the OpenAPI 3.1 document (and a docs page) of the routes in scope. Off by default; `true` for the defaults. */
  readonly openapi?: OpenApiInput | boolean;
}

export interface SchemasOptions {
  readonly allErrors: boolean;
  readonly ajv: Readonly<AjvOptions> | undefined;
  readonly responses: ResponseMode;
  readonly problemType: string;
  readonly openapi: OpenApiOptions | undefined;
}

const RESPONSE_MODES: ReadonlySet<string> = new Set(['check', 'serialize', 'off']);
const JSON_TYPE = 'application/json; charset=utf-8';

function resolveOptions(input: SchemasInput | undefined, app: PluginAppView): SchemasOptions {
  const responses = input?.responses ?? (app.config.production ? 'serialize' : 'check');
  if (!RESPONSE_MODES.has(responses)) {
    throw new ConfigError('VIAL_ERR_SCHEMA', `schemas: responses is 'check', 'serialize' or 'off', got ${JSON.stringify(responses)}.`);
  }
  const problemType = input?.problemType ?? 'about:blank';
  if (typeof problemType !== 'string' || problemType === '') throw new ConfigError('VIAL_ERR_SCHEMA', 'schemas: problemType is a URI string (default "about:blank").');
  const openapi = input?.openapi === undefined || input.openapi === false ? undefined : resolveOpenApi(input.openapi === true ? {} : input.openapi, app.config);
  return { allErrors: input?.allErrors ?? true, ajv: input?.ajv, responses, problemType, openapi };
}

/**
 * `app.plugin(schemas)`, or `app.plugin(schemas, { responses: 'check' })`. Then
 * `app.post('/todos', { schema: { body: NewTodo, response: { 201: Todo } } }, (ctx) => ...)`.
 */
export const schemas = definePlugin<SchemasOptions, SchemasInput>({
  name: 'schemas',
  options: resolveOptions,
  setup(r, options) {
    const compilers = createCompilers({ allErrors: options.allErrors, ...(options.ajv === undefined ? {} : { ajv: options.ajv }) });
    const compileOptions = { compilers, serializers: options.responses === 'serialize' };
    // One compile per route definition: GET and its automatic HEAD share the options object.
    const compiled = new WeakMap<object, CompiledRouteSchema>();
    const compile = (value: unknown, route: RouteView): CompiledRouteSchema => {
      const cached = typeof value === 'object' && value !== null ? compiled.get(value) : undefined;
      if (cached !== undefined) return cached;
      const result = compileRouteSchema(value, route, compileOptions);
      compiled.set(value as object, result);
      return result;
    };

    r.routeOption('schema', (value, route) => void compile(value, route));
    r.routeOption('openapi', checkDocs);
    const documented = new OpenApiRoutes();
    if (options.openapi !== undefined) serveOpenApi(r, options.openapi, documented);
    r.decorate('valid', () => ({ params: undefined, query: undefined, headers: undefined, body: undefined }));
    r.perRoute((route) => {
      documented.add(route);
      const value = route.options.schema;
      if (value === undefined) return undefined;
      const schema = compile(value, route);
      const beforeHandler = schema.parts.length === 0 ? undefined : (ctx: Context) => validateRequest(ctx, schema, options.problemType);
      const onReply = schema.responses.size === 0 || options.responses === 'off'
        ? undefined
        : options.responses === 'check'
          ? (_ctx: Context, reply: unknown) => checkReply(route, schema, reply)
          : (_ctx: Context, reply: unknown) => serializeReply(schema, reply);
      return { ...(beforeHandler === undefined ? {} : { beforeHandler }), ...(onReply === undefined ? {} : { onReply }) };
    });
  },
});

const DOCS_KEYS: ReadonlySet<string> = new Set(['summary', 'description', 'tags', 'operationId', 'deprecated', 'session']);

function checkDocs(value: unknown, route: RouteView): void {
  if (value === false) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value) || Object.keys(value).some((k) => !DOCS_KEYS.has(k))) {
    throw new ConfigError('VIAL_ERR_OPENAPI', `The openapi option of ${route.key} is false or an object with ${[...DOCS_KEYS].join(', ')}.`);
  }
}

// --- requests -------------------------------------------------------------------------------

/** The query string (or form fields) as an object: one value a string, a repeated key an array. */
function entriesObject(params: URLSearchParams): Record<string, string | string[]> {
  const out = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of params) {
    const existing = out[key];
    out[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return out;
}

const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data']);

/**
 * A copy of a text part the validator may change (ajv fills defaults and coerces in place).
 * Synchronous: these are already in memory.
 */
function readTextPart(ctx: Context, part: Exclude<RequestPart, 'body'>): unknown {
  switch (part) {
    case 'params': return { ...ctx.params };
    case 'query': return entriesObject(ctx.query);
    case 'headers': return { ...ctx.request.headers };
  }
}

/** The body, parsed (a fresh value: the validator may change it). The reader's promise is returned as is: no extra await per request. */
function readBodyPart(ctx: Context): Promise<unknown> {
  if (FORM_TYPES.has(ctx.request.contentType)) return ctx.request.form().then((form) => entriesObject(form.fields));
  return ctx.request.json();
}

/**
 * The hot path of every route with a request schema (bench/scenarios/post-validated.ts): one await
 * for the body, none for the text parts or a synchronous validator, and no issue list unless
 * something failed.
 */
async function validateRequest(ctx: Context, schema: CompiledRouteSchema, problemType: string): Promise<VialResponse | undefined> {
  let issues: ValidationIssue[] | undefined;
  const valid = ctx.valid as { -readonly [K in keyof ValidParts]: unknown };
  const parts = schema.parts;
  for (let i = 0; i < parts.length; i++) {
    const [part, validator] = parts[i] as (typeof parts)[number];
    let input: unknown;
    if (part === 'body') {
      try {
        input = await readBodyPart(ctx);
      } catch (error) {
        // The body reader's own refusals (malformed JSON, wrong type, too large): their messages are
        // written for clients; anything else is vial's problem and goes to the error handler.
        if (error instanceof BadRequestError) return problem(ctx, problemType, error.status, error.code, error.message, undefined, error.headers);
        throw error;
      }
    } else {
      input = readTextPart(ctx, part);
    }
    let outcome = validator.validate(input);
    if (outcome instanceof Promise) outcome = await outcome;
    if (outcome.ok) valid[part] = outcome.value;
    else (issues ??= []).push(...outcome.issues);
  }
  if (issues === undefined) return undefined;
  return problem(ctx, problemType, 422, 'VIAL_ERR_VALIDATION', summarize(issues), issues);
}

function problem(ctx: Context, type: string, status: number, code: string, detail: string, errors: readonly ValidationIssue[] | undefined, headers?: Readonly<Record<string, string>>): VialResponse {
  return problemResponse({
    status,
    title: statusText(status),
    // `about:blank` means "the status says it all" (RFC 9457 §4.2.1); a custom type only for 422.
    type: status === 422 ? type : 'about:blank',
    detail,
    instance: ctx.request.path,
    code,
    requestId: ctx.id,
    ...(errors === undefined ? {} : { errors }),
    ...(headers === undefined ? {} : { headers }),
  });
}

// --- responses ------------------------------------------------------------------------------

/** A reply vial would send as JSON: a plain object or array, a number or a boolean. */
function isJsonReply(reply: unknown): boolean {
  if (typeof reply === 'number' || typeof reply === 'boolean') return true;
  if (typeof reply !== 'object' || reply === null) return false;
  const proto = Object.getPrototypeOf(reply) as unknown;
  return Array.isArray(reply) || proto === Object.prototype || proto === null;
}

function isJsonResponse(response: VialResponse): response is VialResponse & { body: string } {
  const type = response.headers['content-type'];
  return typeof response.body === 'string' && typeof type === 'string' && /^application\/(?:[\w.+-]*\+)?json\b/i.test(type);
}

/**
 * Development and test: the reply, as the client would receive it (after JSON.stringify, so
 * `toJSON` and dropped `undefined`s count), must match the schema of its status. A plain reply gets
 * the route's one declared 2xx status. A status without a schema, or a body that is not JSON, is
 * passed through unchecked.
 */
function checkReply(route: RouteView, schema: CompiledRouteSchema, reply: unknown): unknown {
  let status: number;
  let sent: unknown;
  if (reply instanceof VialResponse) {
    if (!isJsonResponse(reply)) return reply;
    status = reply.status;
    sent = JSON.parse(reply.body);
  } else if (isJsonReply(reply)) {
    status = schema.defaultStatus;
    sent = JSON.parse(JSON.stringify(reply));
  } else {
    return reply;
  }
  const response = schema.responses.get(status);
  if (response === undefined) return reply;
  const finish = (outcome: Outcome): unknown => {
    // Thrown, not logged here: the dispatcher logs it once (its message and issues name each field).
    if (!outcome.ok) throw new ResponseValidationError(route.key, status, outcome.issues);
    return reply instanceof VialResponse || status === 200 ? reply : json(reply, { status });
  };
  const outcome = response.validator.validate(sent);
  return outcome instanceof Promise ? outcome.then(finish) : finish(outcome);
}

/** Production: a plain reply with a JSON Schema for its status is written by its compiled serializer. */
function serializeReply(schema: CompiledRouteSchema, reply: unknown): unknown {
  if (reply instanceof VialResponse || !isJsonReply(reply)) return reply;
  const response: CompiledResponse | undefined = schema.responses.get(schema.defaultStatus);
  if (response?.serialize !== undefined) return new VialResponse(response.serialize(reply), schema.defaultStatus, { 'content-type': JSON_TYPE });
  return schema.defaultStatus === 200 ? reply : json(reply, { status: schema.defaultStatus });
}
