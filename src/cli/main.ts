#!/usr/bin/env node
/**
 * The `vial` command: `vial run app.ts`, `vial routes app.ts`. TypeScript apps load directly on
 * Node 24 (type stripping); the app module exports the Vial instance as `default` or `app`.
 */
import { parseArgs } from 'node:util';
import { runCommand } from './run.ts';
import { routesCommand } from './routes.ts';
import { newCommand } from './new.ts';
import { doctorCommand } from './doctor/index.ts';
import { closestOption } from './diagnose.ts';

const USAGE = `Usage: vial <command> [options]

Commands:
  run <app.ts>      Start the app's server
  routes <app.ts>   Print the route table
  new <dir>         Create a minimal project (app, test, package.json, README)
  doctor <url>      Probe a running service for leaks, stalls, races and session/CSRF flaws

Run "vial <command> --help" for a command's options.`;

export const COMMANDS: Record<string, { usage: string; run: (args: string[]) => Promise<number> }> = {
  run: { usage: runCommand.usage, run: runCommand.run },
  routes: { usage: routesCommand.usage, run: routesCommand.run },
  new: { usage: newCommand.usage, run: newCommand.run },
  doctor: { usage: doctorCommand.usage, run: doctorCommand.run },
};

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv.slice(0, 1), options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: false });
  const name = positionals[0];
  if (name === undefined || values.help === true) {
    console.log(USAGE);
    return name === undefined && values.help !== true ? 1 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    const near = closestOption(name, Object.keys(COMMANDS));
    console.error(`vial: unknown command "${name}".${near === undefined ? '' : ` Did you mean "vial ${near}"?`}\n\n${USAGE}`);
    return 1;
  }
  return command.run(argv.slice(1));
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? `vial: ${error.message}` : error);
    process.exitCode = 1;
  },
);
