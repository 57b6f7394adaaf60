#!/usr/bin/env node
// The `vial` command. Plain JavaScript so that it runs anywhere npm links it.
//
// In a checkout (src/ is here) it runs the TypeScript source: `npx vial` works right after
// `npm install`, with nothing built and no stale dist/ to forget about. Building on `prepare`
// instead would run tsc on every install (and in every project that installs vial from git), and
// the build would go stale as soon as a file is edited. Installed from a tarball or the registry,
// the package holds only dist/ (package.json "files"), so it runs the compiled CLI; Node refuses to
// strip types under node_modules anyway.
import { existsSync } from 'node:fs';
import module from 'node:module';

const source = new URL('../src/cli/main.ts', import.meta.url);

if (!process.features.typescript) {
  // Every vial app is TypeScript loaded by Node's type stripping (on by default from 22.18).
  console.error(`vial: Node ${process.version} cannot load TypeScript. vial needs Node 22.18 or later (24 recommended).`);
  process.exit(1);
}

if (existsSync(source)) {
  // An app that imports 'vial' resolves the package to itself (package.json "exports"). The
  // "vial-source" condition points those entries at src/, so the app and this CLI share one copy
  // of the framework (one Vial class) instead of the source CLI meeting a Vial from dist/.
  // Cluster workers re-run this file, so they register the same hook.
  module.registerHooks({
    resolve(specifier, context, nextResolve) {
      return nextResolve(specifier, { ...context, conditions: [...context.conditions, 'vial-source'] });
    },
  });
  await import(source.href);
} else {
  await import(new URL('../dist/cli/main.js', import.meta.url).href);
}
