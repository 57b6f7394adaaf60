/** Stopping child processes a test started: by their own pid, politely first. */
import type { ChildProcess } from 'node:child_process';

/** A stop function for `child`: SIGTERM, then SIGKILL after 5 s; resolves once the process exited. */
export function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
}
