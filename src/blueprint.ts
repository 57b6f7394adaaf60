/**
 * Blueprints: a group of routes with a name, a URL prefix, and their own hooks and error handlers.
 * Registration is deferred: nothing happens until `app.register(blueprint)`, which replays the
 * blueprint's routes under its prefix. Pure.
 */
import { ConfigError } from './errors.ts';
import type { Plugin } from './plugin.ts';
import { Scaffold } from './scaffold.ts';

export interface BlueprintOptions<Prefix extends string = string> {
  /** URL prefix for every route, e.g. `/admin`. */
  prefix?: Prefix;
}

export class Blueprint<Prefix extends string = string> extends Scaffold {
  readonly name: string;
  readonly prefix: string;
  /**
   * Type-only (no such property exists): the prefix as written, so that `app.register(blueprint)`
   * puts this blueprint's routes on the app's type under it, for vial/client.
   */
  declare readonly '~prefix'?: Prefix;
  #frozen = false;
  #pluginsTaken = false;
  /** Plugins registered here and not set up yet: they wait for `app.register`. */
  readonly #pendingPlugins: { readonly plugin: Plugin<never, never>; readonly input: unknown }[] = [];

  constructor(name: string, options: BlueprintOptions<Prefix> = {}) {
    super();
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) {
      throw new ConfigError('VIAL_ERR_BLUEPRINT', `Blueprint names are identifiers (letters, digits, _ and -), got "${name}".`);
    }
    this.name = name;
    this.prefix = normalizePrefix(options.prefix ?? '');
  }

  /**
   * Registers a plugin scoped to this blueprint's routes (docs/plugins.md); it is set up when the
   * blueprint is registered on an app.
   */
  plugin<O, I>(plugin: Plugin<O, I>, input?: I): this {
    this.assertMutable(`register plugin "${plugin.name}"`);
    this.#pendingPlugins.push({ plugin: plugin as unknown as Plugin<never, never>, input });
    return this;
  }

  /**
   * Called when an app that registered this blueprint builds its route table. Routes and hooks
   * added later would be silently ignored, so they are refused instead (as the app does).
   */
  freeze(): void {
    this.#frozen = true;
  }

  /**
   * The plugins registered on this blueprint, for the app that registers it to set up (scoped to
   * these routes). Once: a plugin's hooks become part of the blueprint, so a second app would run
   * them twice.
   */
  takePendingPlugins(): readonly { readonly plugin: Plugin<never, never>; readonly input: unknown }[] {
    if (this.#pendingPlugins.length === 0) return [];
    if (this.#pluginsTaken) {
      throw new ConfigError('VIAL_ERR_BLUEPRINT', `Blueprint "${this.name}" has plugins and is already registered on another app. Create one blueprint per app.`);
    }
    this.#pluginsTaken = true;
    return this.#pendingPlugins;
  }

  protected override assertMutable(what: string): void {
    if (this.#frozen) {
      throw new ConfigError(
        'VIAL_ERR_APP_FROZEN',
        `Cannot ${what} on blueprint "${this.name}": an app that registered it has started handling requests. Do all registration at startup.`,
      );
    }
  }
}

export function normalizePrefix(prefix: string): string {
  if (prefix === '' || prefix === '/') return '';
  if (!prefix.startsWith('/')) {
    throw new ConfigError('VIAL_ERR_BLUEPRINT', `A blueprint prefix starts with "/", got "${prefix}".`);
  }
  return prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
}
