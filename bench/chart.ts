/**
 * `node bench/chart.ts <results.json> <out.svg> [--reference SYSTEM]`
 *
 * Draws one bench run's JSON results (bench/results/<scenario>-<time>.json, written by run.ts) as
 * an SVG bar chart of requests per CPU-second with each system's ratio to a reference system
 * (bench/lib/chart.ts). The README's figures are made with this, from the results kept beside them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { renderChart } from './lib/chart.ts';
import type { ChartResults } from './lib/chart.ts';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { reference: { type: 'string' } } });
const [input, output] = positionals;
if (input === undefined || output === undefined) {
  process.stderr.write('usage: node bench/chart.ts <results.json> <out.svg> [--reference SYSTEM]\n');
  process.exit(2);
}
const results = JSON.parse(readFileSync(input, 'utf8')) as ChartResults;
writeFileSync(output, renderChart(results, values.reference === undefined ? {} : { reference: values.reference }));
process.stdout.write(`bench chart: ${output} from ${input}\n`);
