/**
 * Imports a user's app module and finds its Vial instance (`export default app` or `export const app`).
 * A module that fails to parse or throws at import becomes an error that shows where (diagnose.ts).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Vial } from '../app.ts';
import { ConfigError } from '../errors.ts';
import { importFailure } from './diagnose.ts';

export async function loadApp(file: string | undefined): Promise<Vial> {
  if (file === undefined) throw new ConfigError('VIAL_ERR_CLI', 'Name the app module, e.g. `vial run app.ts`.');
  const full = resolve(file);
  if (!existsSync(full)) throw new ConfigError('VIAL_ERR_CLI', `No such file: ${full}`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(full).href)) as Record<string, unknown>;
  } catch (error) {
    throw importFailure(file, error);
  }
  const candidate = mod['default'] ?? mod['app'];
  if (candidate instanceof Vial) return candidate;
  if (typeof candidate === 'object' && candidate !== null && candidate.constructor.name === 'Vial') {
    // instanceof fails across two copies of the package: a global `vial` running a project's app.
    throw new ConfigError(
      'VIAL_ERR_CLI',
      `${file} exports a Vial app made by another copy of vial than the one this CLI belongs to (${fileURLToPath(new URL('..', import.meta.url))}). Run the project's own CLI: \`npx vial\` inside the project.`,
    );
  }
  throw new ConfigError(
    'VIAL_ERR_CLI',
    `${file} does not export a Vial app. Add \`export default app\` (or \`export const app = new Vial()\`).`,
  );
}
