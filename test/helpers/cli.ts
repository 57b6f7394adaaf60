/**
 * A command run as a real process with its output collected line by line (stdout and stderr
 * together), for the CLI tests. Every process started here is killed by pid in `stopAll`.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';

const WAIT_MS = 30_000;

export interface Proc {
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  /** Resolves with the `count`th output line matching, waiting at most 30 s. */
  waitFor(pattern: RegExp, count?: number): Promise<string>;
  /** The exit code, waiting at most 30 s (a hang fails the test instead of the suite). */
  exitCode(): Promise<number | null>;
  /** All output so far, one string. */
  text(): string;
}

const started: ChildProcess[] = [];

/**
 * SIGKILL to each started command's process group: `npx` and `npm` run the command in a child
 * of their own and do not pass a signal on, so killing only their pid would orphan it.
 */
export function stopAll(): void {
  for (const child of started) {
    if (child.pid === undefined) continue;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Intentionally ignored: the group is already gone.
    }
  }
}

export function run(command: string, args: string[], options: SpawnOptions = {}): Proc {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  started.push(child);
  const lines: string[] = [];
  let waiters: (() => void)[] = [];
  const feed = (stream: NodeJS.ReadableStream | null): void => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts);
      for (const w of waiters) w();
    });
    stream?.on('end', () => {
      if (rest !== '') lines.push(rest);
      rest = '';
      for (const w of waiters) w();
    });
  };
  feed(child.stdout);
  feed(child.stderr);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const text = (): string => lines.join('\n');
  return {
    child,
    lines,
    exited,
    text,
    waitFor(pattern, count = 1) {
      return new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const hits = lines.filter((l) => pattern.test(l));
          if (hits.length >= count) {
            clearTimeout(timer);
            waiters = waiters.filter((w) => w !== check);
            resolve(hits[count - 1]!);
          }
        };
        const timer = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(new Error(`no output matching ${pattern} within ${WAIT_MS} ms; got:\n${text()}`));
        }, WAIT_MS);
        waiters.push(check);
        check();
      });
    },
    exitCode() {
      return Promise.race([
        exited,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${WAIT_MS} ms:\n${text()}`)), WAIT_MS).unref()),
      ]);
    },
  };
}

/** The port of the first line with `what` right before `http://127.0.0.1:N`. */
export async function listeningPort(proc: Proc, what = 'listening on '): Promise<number> {
  const line = await proc.waitFor(new RegExp(`${what}http://127\\.0\\.0\\.1:\\d+`));
  return Number(new RegExp(`${what}http://127\\.0\\.0\\.1:(\\d+)`).exec(line)![1]);
}

/** The pid vial prints in its `listening on ... (env, pid N)` line: the server itself, not npx. */
export async function servingPid(proc: Proc): Promise<number> {
  const line = await proc.waitFor(/listening on .*\bpid \d+/);
  return Number(/\bpid (\d+)/.exec(line)![1]);
}
