/**
 * Turns a route's schema, whichever kind it is, into one validator. Runs once per route at
 * startup, never per request: a JSON Schema is compiled by ajv there (so a broken one stops the
 * app with the route and part named), a Standard Schema is checked for its `~standard` interface.
 * Pure apart from ajv's code generation.
 */
import { createRequire } from 'node:module';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Ajv, ErrorObject, Options as AjvOptions, ValidateFunction } from 'ajv';
import { ConfigError } from '../errors.ts';
import { ajvPath, issue, MAX_REPORTED_ISSUES, standardPath } from './issues.ts';
import type { SchemaPart, ValidationIssue } from './issues.ts';

/** A JSON Schema (draft 2020-12 vocabulary, as OpenAPI 3.1 uses), a TypeBox type, or a boolean schema. */
// `object` rather than a record type: TypeBox types are interfaces, which have no index signature.
export type JsonSchema = object | boolean;

/** Anything a route can validate with: a Standard Schema (zod 4, valibot, arktype, ...) or a JSON Schema. */
export type AnySchema = StandardSchemaV1 | JsonSchema;

export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

export interface CompiledSchema {
  readonly kind: 'standard' | 'json-schema';
  /** `zod`, `valibot`, `arktype`, ... for Standard Schemas; `json-schema` otherwise. */
  readonly vendor: string;
  readonly source: AnySchema;
  /** Synchronous for JSON Schema and for most Standard Schemas; a promise only where the library answers with one. */
  validate(value: unknown): Outcome | Promise<Outcome>;
}

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  const props = (value as { '~standard'?: unknown })['~standard'];
  return typeof props === 'object' && props !== null && (props as { version?: unknown }).version === 1 &&
    typeof (props as { validate?: unknown }).validate === 'function';
}

export function isJsonSchema(value: unknown): value is JsonSchema {
  if (typeof value === 'boolean') return true;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && !('~standard' in value);
}

export interface Compilers {
  /** Request bodies and responses: types as sent, no coercion. */
  readonly strict: Ajv;
  /** Path, query and headers arrive as text: `"5"` may satisfy `{ type: 'integer' }`, one value may fill an array. */
  readonly coercing: Ajv;
}

export interface CompilerOptions {
  /** Report every issue rather than the first (bounded by MAX_REPORTED_ISSUES). */
  readonly allErrors: boolean;
  /** Extra ajv options (formats, keywords); vial's own (strict, coercion) win. */
  readonly ajv?: Readonly<AjvOptions>;
}

/**
 * ajv and ajv-formats (with fast-uri: ~0.4 MB of source, ~2 MiB of RSS at import on Node 24) are
 * loaded when an app first builds its compilers (the schemas plugin's registration), not with
 * vial: an app without schemas never pays for them (issue 16). A synchronous require, because
 * registration is synchronous and both packages are CommonJS.
 */
const requireDependency = createRequire(import.meta.url);

export function createCompilers(options: CompilerOptions): Compilers {
  const { Ajv } = requireDependency('ajv') as typeof import('ajv');
  const addFormats = requireDependency('ajv-formats') as typeof import('ajv-formats');
  // strict: unknown keywords and ambiguous types are startup errors, not silently ignored rules.
  // useDefaults fills `default`s, as Fastify does; removeAdditional stays off: extra keys are the
  // schema's to refuse (additionalProperties: false), never dropped behind the caller's back.
  const base: AjvOptions = { ...options.ajv, allErrors: options.allErrors, strict: true, useDefaults: true, messages: true };
  const strict = new Ajv({ ...base, coerceTypes: false });
  const coercing = new Ajv({ ...base, coerceTypes: 'array' });
  addFormats.default(strict);
  addFormats.default(coercing);
  return { strict, coercing };
}

/** Where a schema sits, for error messages: `schema.body of POST /users`. */
export interface SchemaSite {
  readonly routeKey: string;
  readonly part: SchemaPart;
  /** For responses: the status code. */
  readonly status?: number;
}

export function describeSite(site: SchemaSite): string {
  const where = site.part === 'response' ? `schema.response[${site.status ?? '?'}]` : `schema.${site.part}`;
  return `${where} of ${site.routeKey}`;
}

export function compileSchema(schema: unknown, site: SchemaSite, compilers: Compilers): CompiledSchema {
  if (isStandardSchema(schema)) return fromStandard(schema, site.part);
  if (isJsonSchema(schema)) {
    const ajv = site.part === 'body' || site.part === 'response' ? compilers.strict : compilers.coercing;
    let validate: ValidateFunction;
    try {
      validate = ajv.compile(schema);
    } catch (error) {
      throw new ConfigError(
        'VIAL_ERR_SCHEMA',
        `${describeSite(site)} is not a valid JSON Schema: ${(error as Error).message}. Fix the schema (ajv compiles it in strict mode: unknown keywords are refused).`,
      );
    }
    return fromAjv(schema, validate, site.part);
  }
  throw new ConfigError(
    'VIAL_ERR_SCHEMA',
    `${describeSite(site)} is neither a Standard Schema (zod 4, valibot, arktype: an object with "~standard") nor a JSON Schema object; got ${describeValue(schema)}.`,
  );
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'an unknown class'}`;
  return typeof value;
}

function fromStandard(schema: StandardSchemaV1, part: SchemaPart): CompiledSchema {
  const props = schema['~standard'];
  const toOutcome = (input: unknown, result: StandardSchemaV1.Result<unknown>): Outcome =>
    result.issues === undefined
      ? { ok: true, value: result.value }
      : { ok: false, issues: result.issues.slice(0, MAX_REPORTED_ISSUES).map((i) => issue(part, standardPath(i.path), i.message, input)) };
  return {
    kind: 'standard',
    vendor: props.vendor,
    source: schema,
    validate(value) {
      const result = props.validate(value);
      return result instanceof Promise ? result.then((r) => toOutcome(value, r)) : toOutcome(value, result);
    },
  };
}

function fromAjv(schema: JsonSchema, validate: ValidateFunction, part: SchemaPart): CompiledSchema {
  return {
    kind: 'json-schema',
    vendor: 'json-schema',
    source: schema,
    validate(value) {
      // Ajv validates in place (defaults, coercion); the caller passes a value it owns.
      if (validate(value)) return { ok: true, value };
      const errors: ErrorObject[] = validate.errors ?? [];
      return {
        ok: false,
        issues: errors.slice(0, MAX_REPORTED_ISSUES).map((e) => issue(part, ajvPath(e.instancePath, e.params as Record<string, unknown>), e.message ?? `fails "${e.keyword}"`, value)),
      };
    },
  };
}
