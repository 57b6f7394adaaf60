/** The bench's SVG chart (bench/lib/chart.ts): drawn from a results file, ratios to a reference row. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { referenceRow, renderChart } from '../bench/lib/chart.ts';
import type { ChartResults } from '../bench/lib/chart.ts';

const results: ChartResults = {
  scenario: 'hello-breakdown',
  startedAt: '2026-12-03T16:00:00.000Z',
  machine: { node: 'v24.21.0', cpus: 2, loadavgBefore: [0.65, 0.5, 0.4] },
  config: { rounds: 5, durationSec: 5, connections: 100 },
  checks: [{ label: 'vial >= 0.95x node:http+headers', pass: false, detail: '0.90x' }],
  data: {
    summaries: [
      { system: 'vial', rps: 30_000, rpsPerCpu: 27_000, p99Ms: 6.2 },
      { system: 'fastify <plugins> & co', rps: 20_000, rpsPerCpu: 18_000, p99Ms: 9.1, errors: 1234 },
      { system: 'node:http+headers', rps: 33_000, rpsPerCpu: 30_000, p99Ms: 4.5 },
      { system: 'node:http', rps: 36_000, rpsPerCpu: 36_000, p99Ms: 4 },
    ],
  },
};

it('draws a bar per system with its ratio to node:http sending the same headers', () => {
  const svg = renderChart(results);
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(svg, /ratio to node:http\+headers/);
  assert.match(svg, />0\.90x {2}27,000\/cpu-s {2}30,000 req\/s {2}p99 6\.2 ms</);
  assert.match(svg, />1\.20x {2}36,000\/cpu-s/);
  // Bar widths follow req/cpu-s: the fastest row gets the longest bar.
  const widths = [...svg.matchAll(/<rect x="170" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.equal(widths.length, 4);
  assert.equal(Math.max(...widths), widths[3]);
  assert.ok(widths[1]! < widths[0]!);
  // A row with failed requests says so: it did other work than the rest.
  assert.match(svg, /<tspan fill="#b03a2e"> {2}1,234 errors<\/tspan>/);
  assert.equal([...svg.matchAll(/errors<\/tspan>/g)].length, 1);
  assert.match(svg, /FAIL {2}vial &gt;= 0\.95x node:http\+headers: 0\.90x/);
  assert.match(svg, /2026-12-03 16:00 UTC, Node v24\.21\.0, 2 cores, 5 rounds x 5 s, 100 connections, load average 0\.65/);
});

it('escapes system names and takes another reference on request', () => {
  const svg = renderChart(results, { reference: 'vial' });
  assert.match(svg, /fastify &lt;plugins&gt; &amp; co/);
  assert.doesNotMatch(svg, /<plugins>/);
  assert.match(svg, />1\.00x {2}27,000\/cpu-s/);
});

it('says what is wrong with a reference that is not there, or results without systems', () => {
  assert.throws(() => referenceRow(results.data.summaries, 'express'), /no system "express" in these results; they have "vial", /);
  assert.throws(() => renderChart({ ...results, data: { summaries: [] } }), /hold no systems/);
  // Without node:http+headers the fastest row is the reference.
  assert.equal(referenceRow(results.data.summaries.filter((r) => r.system !== 'node:http+headers')).system, 'node:http');
});
