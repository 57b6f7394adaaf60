/**
 * `vial run app.ts --reload`, for development. This process owns the listening socket and never
 * imports the app; a cluster worker runs it (the same worker side as `--workers`: connections come
 * over IPC, src/process/worker.ts). The worker reports every file of the module graph it loaded
 * (outside node_modules); a change to one of them, debounced, starts a new worker. Connections go
 * to the old one until the new one is ready, then the old one drains. A new version that fails to
 * start (a syntax error, an exception at import) prints its error with a code frame and exits; the
 * last good version keeps serving, and the next save tries again.
 *
 * The port never changes hands, so a browser tab or curl loop sees no refused connection.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import module from 'node:module';
import { shownPath } from './diagnose.ts';

/** Set on the worker's environment (the process boundary) so it records its module graph. */
export const RELOAD_CHILD_ENV = 'VIAL_RELOAD_CHILD';
const DEBOUNCE_MS = 100;

/** In the worker: collect every file:// module loaded from now on, outside node_modules. */
export function recordModuleGraph(): () => string[] {
  const files = new Set<string>();
  module.registerHooks({
    load(url, context, nextLoad) {
      if (url.startsWith('file:') && !url.includes('/node_modules/')) files.add(fileURLToPath(url));
      return nextLoad(url, context);
    },
  });
  return () => [...files];
}

export interface ReloadOptions {
  host: string;
  port: number;
  /** The worker's command line: `run app.ts ...` without --reload. */
  args: string[];
}

interface Version {
  worker: Worker;
  ready: boolean;
}

export async function runReloader(options: ReloadOptions): Promise<void> {
  const pending: Socket[] = [];
  let current: Version | undefined;
  let next: Version | undefined;
  let stopping = false;
  const watched = new Set<string>();
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;

  cluster.setupPrimary({ exec: process.argv[1]!, args: options.args });

  function hand(socket: Socket): void {
    if (current?.ready !== true || !current.worker.isConnected()) {
      pending.push(socket);
      return;
    }
    current.worker.send(['vial:conn'], socket, { keepOpen: false }, (err: Error | null) => {
      if (err !== null) socket.destroy();
    });
  }

  function watchFiles(files: string[]): void {
    for (const file of files) watched.add(file);
    // Directories, not files: an editor that saves by renaming a new file over the old one
    // would leave a per-file watcher on the old inode.
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      if (watchers.has(dir)) continue;
      const watcher = watch(dir, (_event, name) => {
        if (name !== null && watched.has(`${dir}/${name}`)) changed(`${dir}/${name}`);
      });
      watcher.on('error', () => watchers.delete(dir));
      watcher.unref();
      watchers.set(dir, watcher);
    }
  }

  function changed(file: string): void {
    clearTimeout(timer);
    timer = setTimeout(() => {
      console.log(`vial: ${shownPath(file)} changed; starting the new version`);
      start();
    }, DEBOUNCE_MS);
  }

  function start(): void {
    if (stopping) return;
    // A newer save wins over a version still starting.
    if (next !== undefined) next.worker.process.kill('SIGKILL');
    const version: Version = { worker: cluster.fork({ [RELOAD_CHILD_ENV]: '1' }), ready: false };
    next = version;
    version.worker.on('message', (msg: unknown) => {
      if (!Array.isArray(msg)) return;
      if (msg[0] === 'vial:files') watchFiles(msg[1] as string[]);
      if (msg[0] !== 'vial:ready' || next !== version) return;
      version.ready = true;
      const old = current;
      current = version;
      next = undefined;
      if (old !== undefined) {
        old.worker.send(['vial:drain']);
        console.log(`vial: reloaded (pid ${version.worker.process.pid})`);
      }
      for (const socket of pending.splice(0)) hand(socket);
    });
    version.worker.on('exit', (code: number | null) => {
      if (next === version) {
        next = undefined;
        console.error(current === undefined
          ? `vial: the app did not start (exit code ${code}); fix the error above and save: vial is watching for changes.`
          : `vial: the new version did not start (exit code ${code}); the previous one keeps serving. Fix the error above and save again.`);
      } else if (current === version && !stopping) {
        current = undefined;
        console.error(`vial: the app exited (code ${code}); save a file to start it again.`);
      }
    });
  }

  const server = createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    hand(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port }, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  const address = server.address() as { port: number };
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  console.log(`vial: reloader listening on http://${shownHost}:${address.port} (development, pid ${process.pid}); restarts when a file the app imports changes`);
  start();

  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.close();
    for (const socket of pending.splice(0)) socket.destroy();
    for (const watcher of watchers.values()) watcher.close();
    next?.worker.process.kill('SIGKILL');
    const last = current?.worker;
    if (last === undefined || !last.isConnected()) process.exit(0);
    last.once('exit', (code: number | null) => process.exit(code ?? 1));
    last.send(['vial:drain']);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

