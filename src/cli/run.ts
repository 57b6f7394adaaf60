/** `vial run app.ts`: starts the app's server, with graceful shutdown on SIGTERM/SIGINT. */
import { parseArgs } from 'node:util';
import { loadApp } from './load-app.ts';

const usage = `Usage: vial run <app.ts> [--port N] [--host H]

Starts the app. TypeScript apps load directly (Node 24 strips types).
  --port N     port to listen on (default: VIAL_PORT or 5000; 0 picks a free one)
  --host H     address to bind (default: VIAL_HOST or 127.0.0.1)`;

function parsePort(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be 0-65535, got "${text}".`);
  return port;
}

async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    options: {
      help: { type: 'boolean', short: 'h' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
    },
    allowPositionals: true,
  });
  if (values.help === true) {
    console.log(usage);
    return 0;
  }
  const app = await loadApp(positionals[0]);
  const port = parsePort(values.port);
  const running = await app.listen({ ...(port === undefined ? {} : { port }), ...(values.host === undefined ? {} : { host: values.host }) });
  console.log(`vial: ${app.config.name} listening on ${running.url} (${app.config.env})`);
  const stop = (signal: string): void => {
    console.log(`vial: ${signal} received, finishing in-flight requests`);
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return 0;
}

export const runCommand = { usage, run };
