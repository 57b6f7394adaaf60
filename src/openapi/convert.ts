/**
 * A route schema as JSON Schema for the OpenAPI document, made by each library's own converter:
 * JSON Schema and TypeBox as they are, zod 4 (and any library with Standard JSON Schema) through
 * `~standard.jsonSchema`, valibot through @valibot/to-json-schema. Runs once, at startup.
 */
import type { StandardJSONSchemaV1 } from '@standard-schema/spec';
import { ConfigError } from '../errors.ts';
import { isJsonSchema, isStandardSchema } from '../schema/compile.ts';
import type { AnySchema } from '../schema/compile.ts';

export type JsonObject = Record<string, unknown>;

/** Request parts are documented as the schema's input, responses as its output (after transforms). */
export type Direction = 'input' | 'output';

/** The valibot converter, loaded only when an app has a valibot schema (an optional peer dependency). */
export type ValibotConverter = (schema: unknown, config: { target: 'draft-2020-12'; typeMode: Direction; errorMode: 'throw' }) => JsonObject;

export interface Converters {
  readonly valibot?: ValibotConverter;
}

export async function loadConverters(schemas: Iterable<AnySchema>): Promise<Converters> {
  for (const schema of schemas) {
    if (isStandardSchema(schema) && schema['~standard'].vendor === 'valibot' && !hasStandardJsonSchema(schema)) {
      try {
        const mod = (await import('@valibot/to-json-schema')) as unknown as { toJsonSchema: ValibotConverter };
        return { valibot: mod.toJsonSchema };
      } catch (error) {
        throw new ConfigError(
          'VIAL_ERR_OPENAPI',
          `The app has valibot schemas; documenting them needs valibot's own converter: npm install @valibot/to-json-schema (${(error as Error).message}).`,
        );
      }
    }
  }
  return {};
}

function hasStandardJsonSchema(schema: object): schema is StandardJSONSchemaV1 {
  const props = (schema as { '~standard'?: { jsonSchema?: unknown } })['~standard'];
  return typeof props?.jsonSchema === 'object' && props.jsonSchema !== null;
}

export function toJsonSchema(schema: AnySchema, direction: Direction, converters: Converters, where: string): JsonObject {
  if (isStandardSchema(schema)) {
    const vendor = schema['~standard'].vendor;
    try {
      if (hasStandardJsonSchema(schema)) return clean(schema['~standard'].jsonSchema[direction]({ target: 'draft-2020-12' }));
      if (vendor === 'valibot' && converters.valibot !== undefined) {
        return clean(converters.valibot(schema, { target: 'draft-2020-12', typeMode: direction, errorMode: 'throw' }));
      }
    } catch (error) {
      throw new ConfigError('VIAL_ERR_OPENAPI', `${where}: the ${vendor} schema cannot be expressed as JSON Schema (${(error as Error).message}). Simplify it (transforms and custom checks have no JSON Schema form) or hide the route with openapi: false.`);
    }
    throw new ConfigError(
      'VIAL_ERR_OPENAPI',
      `${where}: ${vendor} schemas give no JSON Schema (no ~standard.jsonSchema). Use a library that converts (zod 4, valibot with @valibot/to-json-schema, arktype), a JSON Schema, or hide the route with openapi: false.`,
    );
  }
  if (isJsonSchema(schema)) return typeof schema === 'boolean' ? (schema ? {} : { not: {} }) : clean({ ...schema });
  throw new ConfigError('VIAL_ERR_OPENAPI', `${where}: not a schema.`);
}

/** The document declares the 2020-12 dialect once; a `$schema` in every embedded schema says nothing more. */
function clean(schema: JsonObject): JsonObject {
  const { $schema: _dialect, ...rest } = schema;
  return rest;
}

/**
 * Moves each schema's `$defs` (zod's recursive and registered types) into `components.schemas` and
 * points its `$ref`s there: inside an OpenAPI document `#/$defs/X` would resolve against the
 * document root, where nothing is. A name already taken by a different schema gets a suffix.
 */
export function hoistDefs(schema: JsonObject, components: Map<string, JsonObject>, rootName: string): JsonObject {
  const text = JSON.stringify(schema);
  if (!text.includes('"$ref":"#')) return schema;
  const defs = (schema['$defs'] ?? {}) as Record<string, JsonObject>;
  let selfReferenced = false;
  const renamed = new Map<string, string>();
  for (const [name, def] of Object.entries(defs)) {
    let target = name.replace(/[^A-Za-z0-9._-]/g, '_');
    const text = JSON.stringify(def);
    for (let n = 2; components.has(target) && JSON.stringify(components.get(target)) !== text; n++) target = `${name}_${n}`;
    renamed.set(name, target);
  }
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (typeof value !== 'object' || value === null) return value;
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith('#/$defs/')) {
        const name = decodeURIComponent(child.slice('#/$defs/'.length));
        out[key] = `#/components/schemas/${encodeURIComponent(renamed.get(name) ?? name)}`;
      } else if (key === '$ref' && child === '#') {
        // zod writes a self-reference of the root as "#": the root becomes a component of its own.
        selfReferenced = true;
        out[key] = `#/components/schemas/${encodeURIComponent(rootName)}`;
      } else out[key] = rewrite(child);
    }
    return out;
  };
  for (const [name, def] of Object.entries(defs)) components.set(renamed.get(name) as string, rewrite(def) as JsonObject);
  const { $defs: _defs, ...rest } = schema;
  const root = rewrite(rest) as JsonObject;
  if (!selfReferenced) return root;
  components.set(rootName, root);
  return { $ref: `#/components/schemas/${encodeURIComponent(rootName)}` };
}
