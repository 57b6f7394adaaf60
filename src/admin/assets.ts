/**
 * The dashboard's files: the page, its script and stylesheet (src/admin/dashboard/), and uPlot's
 * build from node_modules/uplot/dist. Read once at start and served from memory by the admin
 * listener itself: the page loads nothing from any other origin (no CDN).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Endpoint } from './http.ts';

const require = createRequire(import.meta.url);

function file(path: string, type: string): Endpoint {
  const body = readFileSync(path);
  return { public: true, handle: () => ({ status: 200, body, type }) };
}

export function dashboardAssets(): Map<string, Endpoint> {
  const here = (name: string): string => fileURLToPath(new URL(`./dashboard/${name}`, import.meta.url));
  return new Map<string, Endpoint>([
    ['/', file(here('index.html'), 'text/html; charset=utf-8')],
    ['/dashboard.js', file(here('dashboard.js'), 'text/javascript; charset=utf-8')],
    ['/dashboard.css', file(here('dashboard.css'), 'text/css; charset=utf-8')],
    ['/assets/uPlot.iife.min.js', file(require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8')],
    ['/assets/uPlot.min.css', file(require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8')],
  ]);
}
