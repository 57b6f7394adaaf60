/**
 * Which process listens on a TCP port, for the "port in use" error: the socket's inode from
 * /proc/net/tcp and tcp6 (state 0A is LISTEN), then the process with a file descriptor on
 * `socket:[inode]` in /proc/PID/fd. Linux only, and only processes this user may inspect: anything
 * unreadable gives `undefined`, and the error then goes without a pid.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { ConfigError } from '../errors.ts';

export interface PortHolder {
  readonly pid: number;
  /** Its command line, cut to 120 characters. */
  readonly command: string;
}

const LISTEN = '0A';

function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const row of text.split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      const local = cols[1];
      if (local === undefined || cols[3] !== LISTEN) continue;
      if (Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[9] !== undefined && cols[9] !== '0') inodes.add(cols[9]);
    }
  }
  return inodes;
}

export function findPortHolder(port: number): PortHolder | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  const wanted = new Set([...inodes].map((inode) => `socket:[${inode}]`));
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (!wanted.has(target)) continue;
      let command = '';
      try {
        command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 120);
      } catch {
        // Intentionally empty: the pid alone is enough to act on.
      }
      return { pid: Number(pid), command };
    }
  }
  return undefined;
}

/** EADDRINUSE from listening on `host:port`, with who holds it and what to do. */
export function portInUse(error: NodeJS.ErrnoException & { port?: number; address?: string }, flag = '--port', envName = 'VIAL_PORT'): ConfigError {
  const port = error.port ?? 0;
  const holder = findPortHolder(port);
  const who = holder === undefined ? 'another process' : `pid ${holder.pid}${holder.command === '' ? '' : ` (${holder.command})`}`;
  const stop = holder === undefined ? '' : `Stop it (kill ${holder.pid}), or pick`;
  return new ConfigError(
    'VIAL_ERR_PORT_IN_USE',
    `Port ${port} on ${error.address ?? 'this machine'} is already in use by ${who}. ${stop === '' ? 'Pick' : stop} another port with ${flag} N (or ${envName}=N; ${flag} 0 picks a free one).`,
  );
}
