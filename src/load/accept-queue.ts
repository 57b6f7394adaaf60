/**
 * The kernel's accept queue of vial's listening sockets, read from /proc: the wait that happens
 * before a connection reaches any limit of vial's (see acceptors.ts for why it can be long).
 * `acceptQueueIn` is pure; `readAcceptQueue` reads the tables.
 */
import { open } from 'node:fs/promises';
import { listeningPorts, listensOnIPv6 } from './acceptors.ts';

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
  // tcp6 only when a server listens there: with no row to stop at, a read walks every bucket of
  // the kernel's connection hash (~2.7 ms of CPU a second on this machine, for nothing).
  for (const file of listensOnIPv6() ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/tcp']) {
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
 * Bytes read per table at most: the kernel lists listening rows before any connection, and 64 KiB
 * holds ~430 of them (a host with more listening sockets in this network namespace is under-counted).
 */
const HEAD_BYTES = 64 * 1024;
/** One read: ~27 rows, enough for every listening socket of most hosts. */
const CHUNK_BYTES = 4096;

/**
 * The listening rows at the start of a /proc/net/tcp table. The kernel lists the listening hash
 * before the established one and generates rows only as they are read, so reading stops at the
 * first connection row: with 1,000 connections open, reading a fixed 64 KiB made the kernel format
 * ~430 rows and this process parse them every second, for a few lines (~1% of a core on a busy
 * WebSocket server, issue 19).
 */
async function readHead(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(HEAD_BYTES);
    let length = 0;
    while (length < HEAD_BYTES) {
      const { bytesRead } = await handle.read(buffer, length, Math.min(CHUNK_BYTES, HEAD_BYTES - length), null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (pastListening(buffer.toString('latin1', 0, length))) break;
    }
    const text = buffer.toString('latin1', 0, length);
    // A row cut at the end of what was read is dropped rather than misread.
    return text.slice(0, text.lastIndexOf('\n') + 1);
  } finally {
    await handle.close();
  }
}

/** True once the last complete row of `text` (a table's start) is not a listening one. Pure. */
export function pastListening(text: string): boolean {
  const end = text.lastIndexOf('\n');
  if (end <= 0) return false;
  const row = text.slice(text.lastIndexOf('\n', end - 1) + 1, end).trim().split(/\s+/);
  // The header's fourth column is "st"; a listening row's state is 0A.
  return row.length > 3 && row[3] !== '0A' && row[3] !== 'st';
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

