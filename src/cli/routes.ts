/** `vial routes app.ts`: the route table, one line per method and path. */
import { parseArgs } from 'node:util';
import { optionError } from './diagnose.ts';
import { loadApp } from './load-app.ts';

const usage = `Usage: vial routes <app.ts> [--json]

Prints every route: method, path, name, blueprint and per-route options.
  --json   machine-readable output`;

async function run(args: string[]): Promise<number> {
  const options = { help: { type: 'boolean', short: 'h' }, json: { type: 'boolean' } } as const;
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true });
  } catch (error) {
    throw optionError('routes', Object.keys(options), error);
  }
  const { positionals, values } = parsed;
  if (values.help === true) {
    console.log(usage);
    return 0;
  }
  const app = await loadApp(positionals[0]);
  const rows = app.routeList
    .filter((r) => !(r.method === 'HEAD' && r.info.key.startsWith('GET ')))
    .map((r) => ({
      method: r.method,
      path: r.pattern.source,
      name: r.info.name ?? '',
      blueprint: r.info.blueprint ?? '',
      options: Object.entries(r.options)
        .filter(([k]) => k !== 'name')
        .map(([k, v]) => `${k}=${describeOption(v)}`)
        .join(' '),
    }));
  if (values.json === true) {
    console.log(JSON.stringify(rows, null, 2));
    return 0;
  }
  const header = { method: 'METHOD', path: 'PATH', name: 'NAME', blueprint: 'BLUEPRINT', options: 'OPTIONS' };
  const all = [header, ...rows];
  const width = (key: keyof typeof header): number => Math.max(...all.map((r) => r[key].length));
  for (const row of all) {
    console.log(
      [row.method.padEnd(width('method')), row.path.padEnd(width('path')), row.name.padEnd(width('name')), row.blueprint.padEnd(width('blueprint')), row.options]
        .join('  ')
        .trimEnd(),
    );
  }
  return 0;
}

export const routesCommand = { usage, run };

/** An option's value in one word: an object option (a plugin's `schema`) shows its keys, not [object Object]. */
function describeOption(value: unknown): string {
  if (typeof value === 'object' && value !== null && !(value instanceof URL)) return `{${Object.keys(value).join(',')}}`;
  return String(value);
}
