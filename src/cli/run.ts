/**
 * `vial run app.ts [--workers N]`. One process: `app.listen()` plus graceful shutdown. More (or
 * recycling): this same command becomes the primary of src/process/supervisor.ts, which re-runs
 * it (same script, same arguments) as cluster workers; `cluster.isWorker` tells the two apart.
 */
import cluster from 'node:cluster';
import diagnostics from 'node:diagnostics_channel';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { Vial } from '../app.ts';
import { ConfigError } from '../errors.ts';
import { resolveProcessOptions } from '../process/options.ts';
import type { ProcessOptions, ResolvedProcessOptions } from '../process/options.ts';
import { installGracefulShutdown } from '../process/shutdown.ts';
import { runSupervisor } from '../process/supervisor.ts';
import type { Supervisor } from '../process/supervisor.ts';
import { runWorker } from '../process/worker.ts';
import { serveWorkerMetrics, startPrimaryAdmin } from '../admin/cluster.ts';
import { optionError } from './diagnose.ts';
import { loadApp } from './load-app.ts';
import { portInUse } from './port-holder.ts';
import { RELOAD_CHILD_ENV, recordModuleGraph, runReloader } from './reload.ts';

const usage = `Usage: vial run <app.ts> [options]

Starts the app. TypeScript apps load directly (Node 24 strips types).
  --port N                  port to listen on (default: VIAL_PORT or 5000; 0 picks a free one)
  --host H                  address to bind (default: VIAL_HOST or 127.0.0.1)
  --cert FILE --key FILE    serve HTTPS with HTTP/2 (HTTP/1.1 fallback over ALPN) from these PEM files
  --workers N               worker processes (default: VIAL_WORKERS or 1). With N > 1 a primary
                            process owns the socket, hands each connection to a worker that
                            answers its heartbeat, restarts dead workers and recycles old ones
  --max-requests N          recycle a worker after N requests (0, the default: never)
  --max-requests-jitter N   add 0..N to each worker's budget (default: 10% of --max-requests)
  --max-rss-mb N            recycle a worker whose resident memory passes N MiB (0: never)
  --graceful-timeout-ms N   how long in-flight requests may finish on shutdown (default 30000)
  --admin-port N            the admin listener (metrics, health, dashboard) on 127.0.0.1:N
                            (default: VIAL_ADMIN_PORT or 9464); with --workers the primary
                            serves it and sums every worker's metrics
  --no-admin                do not start the admin listener (VIAL_ADMIN=0); both admin
                            flags win over the app's own admin options
  --reload                  development only: restart when a file the app imports changes,
                            on the same port; a version that fails to start shows its error
                            and the previous one keeps serving (no admin listener)

With --workers, the primary never imports the app: every worker imports app.ts itself, so the
module's top-level code (opening connections, starting timers, writing files) runs once per
worker, and again in each replacement. The primary listens on --port/--host (or VIAL_PORT,
VIAL_HOST), not on the port the app's options name. Recycling needs a primary, so
--max-requests or --max-rss-mb start one even with a single worker.

SIGTERM or SIGINT: stop accepting, answer 503 to new requests, let in-flight ones finish (up to
the grace period), run the app's shutdown hooks, exit 0; exit 1 if the grace period ran out or
the app failed to start. A second signal forces the shutdown.`;

const MiB = 1024 * 1024;

interface RunFlags {
  file: string | undefined;
  port: number | undefined;
  host: string | undefined;
  /** --cert and --key: PEM file paths for HTTPS and HTTP/2 (docs/https.md). */
  tls: { readonly cert: string; readonly key: string } | undefined;
  /** Only what was given on the command line (or VIAL_WORKERS); the rest keeps its default. */
  process: ProcessOptions;
  /** True when a primary is needed: more than one worker, or recycling. */
  supervised: boolean;
  reload: boolean;
  /** The admin listener, resolved once here from the flags and VIAL_ADMIN/VIAL_ADMIN_PORT, passed to listen() or the primary. */
  admin: { readonly enabled: boolean; readonly port: number | undefined };
}

function intFlag(name: string, text: string | undefined, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new ConfigError('VIAL_ERR_CLI', `${name} must be an integer from 0 to ${max}, got "${text}". Run "vial run --help" for the options.`);
  }
  return value;
}

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  workers: { type: 'string', short: 'w' },
  'max-requests': { type: 'string' },
  'max-requests-jitter': { type: 'string' },
  'max-rss-mb': { type: 'string' },
  'graceful-timeout-ms': { type: 'string' },
  'admin-port': { type: 'string' },
  'no-admin': { type: 'boolean' },
  reload: { type: 'boolean' },
} as const;

function parseFlags(args: string[]): RunFlags | 'help' {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    throw optionError('run', Object.keys(OPTIONS), error);
  }
  const { positionals, values } = parsed;
  if (values.help === true) return 'help';
  // `vial run` is how a service is deployed, so the admin listener is on unless turned off
  // (--no-admin or VIAL_ADMIN=0). An explicit choice here wins over the app's own options.
  const adminPort = intFlag('--admin-port', values['admin-port'], 65535);
  const admin = { enabled: values['no-admin'] !== true && envValue('VIAL_ADMIN') !== '0', port: adminPort };
  const workers = intFlag('--workers', values.workers) ?? intFlag('VIAL_WORKERS', envValue('VIAL_WORKERS'));
  const maxRequests = intFlag('--max-requests', values['max-requests']);
  const maxRequestsJitter = intFlag('--max-requests-jitter', values['max-requests-jitter']);
  const maxRssMb = intFlag('--max-rss-mb', values['max-rss-mb'], Math.floor(Number.MAX_SAFE_INTEGER / MiB));
  const gracefulTimeoutMs = intFlag('--graceful-timeout-ms', values['graceful-timeout-ms']);
  const recycle = {
    ...(maxRequests === undefined ? {} : { maxRequests }),
    ...(maxRequestsJitter === undefined ? {} : { maxRequestsJitter }),
    ...(maxRssMb === undefined ? {} : { maxRssBytes: maxRssMb * MiB }),
  };
  const options: ProcessOptions = {
    ...(workers === undefined ? {} : { workers }),
    ...(Object.keys(recycle).length === 0 ? {} : { recycle }),
    ...(gracefulTimeoutMs === undefined ? {} : { gracefulTimeoutMs }),
  };
  // Validates the combination now (VIAL_ERR_PROCESS_OPTIONS), before anything starts.
  const resolved = resolveProcessOptions(options);
  if ((values.cert === undefined) !== (values.key === undefined)) {
    throw new ConfigError('VIAL_ERR_CLI', 'HTTPS needs both --cert and --key (PEM files). Run "vial run --help" for the options.');
  }
  const supervised = resolved.workers > 1 || resolved.recycle.maxRequests > 0 || resolved.recycle.maxRssBytes > 0;
  if (values.cert !== undefined && (supervised || values.reload === true)) {
    throw new ConfigError('VIAL_ERR_CLI', '--cert/--key serve one process for now; with --workers, recycling or --reload, terminate TLS at a proxy in front of vial.');
  }
  return {
    file: positionals[0],
    port: intFlag('--port', values.port, 65535),
    host: values.host,
    tls: values.cert === undefined || values.key === undefined ? undefined : { cert: values.cert, key: values.key },
    process: options,
    supervised,
    reload: values.reload === true,
    admin,
  };
}

async function run(args: string[]): Promise<number> {
  const flags = parseFlags(args);
  if (flags === 'help') {
    console.log(usage);
    return 0;
  }
  if (cluster.isWorker) return runAsWorker(flags);
  if (flags.reload) return runReloading(flags, args);
  if (flags.supervised) return runAsPrimary(flags);
  return runSingle(flags);
}

/** One process: listen, and on SIGTERM/SIGINT drain, run shutdown hooks and exit. */
async function runSingle(flags: RunFlags): Promise<number> {
  const app = await loadApp(flags.file);
  let running;
  try {
    running = await app.listen({
      ...(flags.port === undefined ? {} : { port: flags.port }),
      ...(flags.host === undefined ? {} : { host: flags.host }),
      ...(flags.tls === undefined ? {} : { tls: flags.tls }),
      admin: { enabled: flags.admin.enabled, ...(flags.admin.port === undefined ? {} : { port: flags.admin.port }) },
    });
  } catch (error) {
    // listen() may have started the monitors (a watchdog thread, timers): stop them so the
    // process can exit with the error instead of lingering.
    await app.shutdown();
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? portInUse(error as NodeJS.ErrnoException) : error;
  }
  console.log(`vial: ${app.config.name} listening on ${running.url} (${app.config.env}, pid ${process.pid})`);
  installGracefulShutdown(running.server, {
    gracefulTimeoutMs: flags.process.gracefulTimeoutMs ?? app.config.process.gracefulTimeoutMs,
    log: app.log,
    onDrain: drainApp(app),
    refusal: app.refusalStyle,
  });
  return 0;
}

/**
 * The app's part of a drain. Admission closes only once the HTTP side is idle: connections
 * accepted (or handed over by the primary) just before the drain still get their first
 * request served, while the shutdown tracker answers 503 to reused connections meanwhile.
 * Then `app.shutdown()` waits for admitted work, stops the monitors and runs shutdown hooks.
 */
function drainApp(app: Vial): (httpIdle: () => Promise<void>) => Promise<void> {
  return async function drainVialApp(httpIdle) {
    await httpIdle();
    await app.shutdown();
  };
}

/** What a worker reports to the primary's heartbeat: the routes it is running, by route key. */
function inFlightRoutes(app: Vial): () => string[] {
  return function describeInFlight() {
    return app.load.admission.snapshot().routes
      .filter((r) => r.inFlight > 0)
      .map((r) => (r.inFlight === 1 ? r.route : `${r.route} (${r.inFlight} in flight)`));
  };
}

/** `--reload`: development only, one worker restarted on changes by src/cli/reload.ts. */
async function runReloading(flags: RunFlags, args: string[]): Promise<number> {
  if (flags.file === undefined) throw new ConfigError('VIAL_ERR_CLI', 'Name the app module, e.g. `vial run app.ts --reload`.');
  const envName = envValue('VIAL_ENV') ?? envValue('NODE_ENV') ?? 'development';
  if (envName === 'production') {
    throw new ConfigError('VIAL_ERR_CLI', '--reload is for development: it watches files and restarts the app on every save. In production run `vial run app.ts` (with --workers N to restart crashed workers), or set NODE_ENV=development.');
  }
  if (flags.supervised) throw new ConfigError('VIAL_ERR_CLI', '--reload runs one worker: leave out --workers, --max-requests and --max-rss-mb in development.');
  const host = flags.host ?? envValue('VIAL_HOST') ?? '127.0.0.1';
  await runReloader({ host, port: flags.port ?? envPort() ?? 5000, args: ['run', ...args.filter((a) => a !== '--reload')] });
  return 0;
}

/** A cluster worker: load the app, build its server without listening, hand it to runWorker. */
async function runAsWorker(flags: RunFlags): Promise<number> {
  // Under --reload, the reloader watches the files this worker imports.
  const graph = process.env[RELOAD_CHILD_ENV] === '1' ? recordModuleGraph() : undefined;
  const reportGraph = (then?: () => void): void => {
    if (graph !== undefined && process.send !== undefined) process.send(['vial:files', graph()], undefined, {}, () => then?.());
    else then?.();
  };
  try {
    // The primary serves the admin listener for the whole machine; a worker never calls listen()
    // (so never starts one) and only answers its metrics requests over IPC.
    const app = await loadApp(flags.file);
    reportGraph();
    const server = app.createServer();
    await app.start();
    await app.startMonitors();
    const metrics = app.monitors.metrics;
    if (metrics !== undefined) serveWorkerMetrics(metrics);
    runWorker({ server, onDrain: drainApp(app), describeInFlight: inFlightRoutes(app), log: app.log, refusal: app.refusalStyle });
    warnOnIgnoredAddress(app, flags);
    return 0;
  } catch (error) {
    // Intentionally exits here: the IPC channel to the primary would keep this process alive.
    // The primary counts the exit as a crash (and gives up if no worker ever started).
    console.error(`vial: worker ${process.pid} could not start: ${error instanceof Error ? error.message : String(error)}`);
    reportGraph(() => process.exit(1));
    return 1;
  }
}

/** The app's own `port`/`host` options cannot apply under a primary that never imports it: say so. */
function warnOnIgnoredAddress(app: Vial, flags: RunFlags): void {
  if (cluster.worker?.id !== 1) return;
  const port = flags.port ?? envPort() ?? 5000;
  const host = flags.host ?? envValue('VIAL_HOST') ?? '127.0.0.1';
  // An explicit flag is the operator's choice; only an address the app's options name but the
  // primary silently overrides is worth a warning.
  if ((flags.port === undefined && app.config.port !== port) || (flags.host === undefined && app.config.host !== host)) {
    app.log.warn(
      { appPort: app.config.port, appHost: app.config.host, port, host },
      'vial: the app names another address than the one `vial run --workers` listens on; pass --port/--host (or VIAL_PORT/VIAL_HOST)',
    );
  }
}

function envPort(): number | undefined {
  return intFlag('VIAL_PORT', envValue('VIAL_PORT'), 65535);
}

/** An empty variable (`VIAL_WORKERS=`) counts as unset, as shells and compose files produce them. */
function envValue(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/** The primary: owns the socket, forks workers that re-run this command, exits with their verdict. */
async function runAsPrimary(flags: RunFlags): Promise<number> {
  if (flags.file === undefined) throw new ConfigError('VIAL_ERR_CLI', 'Name the app module, e.g. `vial run app.ts --workers 4`.');
  const options: ResolvedProcessOptions = resolveProcessOptions(flags.process);
  const level = process.env['VIAL_LOG_LEVEL'] ?? 'info';
  const log = pino({ name: 'vial-primary', level });
  // Filled in once runSupervisor returns; worker events only arrive after that.
  const running: { supervisor?: Supervisor } = {};
  // A worker that dies before any worker was ever ready is a boot failure (a syntax error, a
  // missing secret): restarting it forever with back-off would hide it, so after one crash per
  // worker slot the primary gives up and exits 1.
  let anyReady = false;
  let bootCrashes = 0;
  let bootFailed = false;
  const onWorkerEvent = (message: unknown): void => {
    const event = message as { event?: string; cause?: string };
    if (event.event === 'ready') anyReady = true;
    if (event.event === 'exit' && event.cause === 'crash' && !anyReady && ++bootCrashes >= options.workers) {
      bootFailed = true;
      log.error({ crashes: bootCrashes }, 'vial: no worker could start the app; giving up');
      void running.supervisor?.shutdown('workers failed to start');
    }
  };
  diagnostics.subscribe('vial:worker', onWorkerEvent);
  const host = flags.host ?? envValue('VIAL_HOST') ?? '127.0.0.1';
  let supervisor: Supervisor;
  try {
    supervisor = await runSupervisor({
      ...flags.process,
      host,
      port: flags.port ?? envPort() ?? 5000,
      log,
      exit: (code) => process.exit(bootFailed ? 1 : code),
    });
  } catch (error) {
    diagnostics.unsubscribe('vial:worker', onWorkerEvent);
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? portInUse(error as NodeJS.ErrnoException) : error;
  }
  running.supervisor = supervisor;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  console.log(`vial: primary listening on http://${shownHost}:${supervisor.address.port} with ${options.workers} worker(s) (pid ${process.pid})`);
  if (flags.admin.enabled) {
    const token = envValue('VIAL_ADMIN_TOKEN');
    try {
      const admin = await startPrimaryAdmin({
        supervisor,
        host: envValue('VIAL_ADMIN_HOST') ?? '127.0.0.1',
        port: flags.admin.port ?? intFlag('VIAL_ADMIN_PORT', envValue('VIAL_ADMIN_PORT'), 65535) ?? 9464,
        ...(token === undefined ? {} : { token }),
        log,
      });
      console.log(`vial: admin (metrics, dashboard) on ${admin.url}`);
    } catch (error) {
      // A taken admin port must not take the service down with it; a missing token must.
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      log.warn('vial: admin listener not started: its port is in use. Pick another with --admin-port or VIAL_ADMIN_PORT.');
    }
  }
  return 0;
}

export const runCommand = { usage, run };
