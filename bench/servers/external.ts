/**
 * Runs a server that is not a Node script of ours (gunicorn, or `vial run --workers`) under the
 * harness's contract: `node external.ts <port> <command> [args...]`, where `{port}` in the args is
 * replaced by the port (a free one when 0). Starts the command in bench/servers/, waits until
 * `GET /fast` answers, prints `ready <port>`, and on SIGTERM stops the command by its pid.
 *
 * The command runs in its own process group so that its children (gunicorn's workers, vial's
 * cluster workers) are stopped with it even if the parent dies without reaping them.
 */
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { announce, benchPort, HOST } from './port.ts';

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, HOST, resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: HOST, port, path: '/fast', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

const [command, ...rest] = process.argv.slice(3);
if (command === undefined) throw new Error('external.ts: name the command to run after the port.');
const port = benchPort() === 0 ? await freePort() : benchPort();
const child = spawn(command, rest.map((a) => a.replaceAll('{port}', String(port))), {
  cwd: import.meta.dirname,
  stdio: ['ignore', 'inherit', 'inherit'],
  detached: true,
});
const pid = child.pid;
if (pid === undefined) throw new Error(`external.ts: could not start ${command}.`);
// The harness samples the command's own process (and its children), not this wrapper.
process.stdout.write(`child ${pid}\n`);
const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
child.once('exit', (code, signal) => {
  if (!stopping) {
    process.stderr.write(`external.ts: ${command} exited (code ${String(code)}, signal ${String(signal)})\n`);
    process.exit(1);
  }
});
let stopping = false;

const deadline = Date.now() + 30_000;
while (!(await answers(port))) {
  if (Date.now() > deadline) {
    process.kill(-pid, 'SIGKILL');
    throw new Error(`external.ts: ${command} did not answer GET /fast on port ${port} within 30 s.`);
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
}

announce(port, async () => {
  stopping = true;
  process.kill(pid, 'SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 3000)))]);
  clearTimeout(timer);
  // Whatever of the group is still there (a worker stuck in a 2 s busy loop) goes now.
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // the group is already gone
  }
});
