/**
 * What every bench server shares: the port (argv[2], then PORT, then 0 = any free port), the
 * `ready <port>` line the harness waits for, and a clean exit on SIGTERM/SIGINT. The clean exit is
 * intentional: `--cpu-prof` only writes its profile when the process exits normally, not when a
 * signal's default action kills it.
 */

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const HOST = '127.0.0.1';

export function benchPort(): number {
  const raw = process.argv[2] ?? process.env['PORT'] ?? '0';
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`bench server: port must be an integer from 0 to 65535, got "${raw}".`);
  }
  return port;
}

/** Listens a plain node:http server on the bench port and announces it; stopping closes every connection. */
export function listenAndAnnounce(server: Server): void {
  server.listen(benchPort(), HOST, () => {
    announce((server.address() as AddressInfo).port, () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    });
  });
}

/** Prints the line the harness waits for and exits cleanly when stopped. */
export function announce(port: number, close: () => Promise<void>): void {
  process.stdout.write(`ready ${port}\n`);
  const stop = (): void => {
    const exit = (): never => process.exit(0);
    close().then(exit, exit);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
