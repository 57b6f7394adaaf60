/**
 * Raw node:http sending vial's hello bytes from N workers of Node's own cluster module
 * (`argv[3]`, default 2; round-robin: the primary accepts and hands each connection over, as vial's
 * supervisor does). The control for the cluster scenario: what two processes cost per request on
 * this machine with no framework at all, so vial's own share of `--workers 2` can be told apart.
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { helloBytes } from './hello-bytes.ts';
import { announce, benchPort, HOST } from './port.ts';

const workers = Number(process.argv[3] ?? '2');

if (cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  let listening = 0;
  let port = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('listening', (_worker, address) => {
    port = address.port;
    if (++listening === workers) {
      announce(port, async () => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
        await new Promise<void>((resolve) => cluster.once('exit', () => resolve()));
      });
    }
  });
} else {
  const server = createServer(helloBytes(['/hello']));
  // Every worker asks for the same port: the primary owns the socket (port 0 once, then that port).
  server.listen(benchPort(), HOST);
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}
