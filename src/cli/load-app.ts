/** Imports a user's app module and finds its Vial instance (`export default app` or `export const app`). */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Vial } from '../app.ts';
import { ConfigError } from '../errors.ts';

export async function loadApp(file: string | undefined): Promise<Vial> {
  if (file === undefined) throw new ConfigError('VIAL_ERR_CLI', 'Name the app module, e.g. `vial run app.ts`.');
  const full = resolve(file);
  if (!existsSync(full)) throw new ConfigError('VIAL_ERR_CLI', `No such file: ${full}`);
  const mod = (await import(pathToFileURL(full).href)) as Record<string, unknown>;
  const candidate = mod['default'] ?? mod['app'];
  if (candidate instanceof Vial) return candidate;
  throw new ConfigError(
    'VIAL_ERR_CLI',
    `${file} does not export a Vial app. Add \`export default app\` (or \`export const app = new Vial()\`).`,
  );
}
