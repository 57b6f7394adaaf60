/**
 * The kernel's accept queue of vial's listening sockets, read from /proc: the wait that happens
 * before a connection reaches any limit of vial's (see acceptors.ts for why it can be long).
 * `acceptQueueIn` is pure; `readAcceptQueue` reads the tables.
 */
import { open } from 'node:fs/promises';
import { listeningPorts } from './acceptors.ts';

/**
 * Connections the kernel has accepted on vial's listening ports that no socket has taken yet
 * (the accept queue; the `Recv-Q` of a listening socket in `ss -ltn`), summed over IPv4 and IPv6.
 * Requests on them wait where no limit of vial's can see them; a number that stays up means
 * the loop's turns are too long to take them in. Linux only (read from /proc/net/tcp{,6}); null
 * elsewhere or when the tables cannot be read. Counts listening sockets on those ports at any
 * local address: a different process on the same port at another address would be counted too.
 */
export async function readAcceptQueue(): Promise<number | null> {
  const wanted = listeningPorts();
  if (process.platform !== 'linux' || wanted.size === 0) return null;
  let total = 0;
  let read = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      total += acceptQueueIn(await readHead(file), wanted);
      read++;
    } catch {
      // tcp6 is missing on hosts without IPv6; a table that cannot be read just adds nothing.
    }
  }
  return read === 0 ? null : total;
}

/**
 * Bytes read per table: the kernel lists listening rows before any connection, and 64 KiB holds
 * ~430 of them (a host with more listening sockets in this network namespace is under-counted).
 */
const HEAD_BYTES = 64 * 1024;

/**
 * The start of a /proc/net/tcp table. The kernel lists the listening hash before the established
 * one, so the rows that matter are at the top, and with 10,000 connections the whole table would
 * be ~1.5 MB generated and parsed every second for a few lines.
 */
async function readHead(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    let length = 0;
    while (length < HEAD_BYTES) {
      const { bytesRead } = await handle.read(buffer, length, HEAD_BYTES - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const text = buffer.toString('latin1', 0, length);
    // A row cut at the end of the buffer is dropped rather than misread.
    return length < HEAD_BYTES ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  } finally {
    await handle.close();
  }
}

/** Sums rx_queue of LISTEN (0A) rows whose local port is in `wanted`, from a /proc/net/tcp table. Pure. */
export function acceptQueueIn(table: string, wanted: ReadonlySet<number>): number {
  let total = 0;
  for (const line of table.split('\n')) {
    // "  0: 0100007F:1388 00000000:0000 0A 00000000:00000003 ..." (local, remote, state, tx:rx)
    const fields = line.trim().split(/\s+/);
    if (fields[3] !== '0A') continue;
    const local = fields[1] ?? '';
    const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (!wanted.has(port)) continue;
    const queues = fields[4] ?? '';
    total += Number.parseInt(queues.slice(queues.indexOf(':') + 1), 16) || 0;
  }
  return total;
}

