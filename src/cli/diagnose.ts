/**
 * What the `vial` command prints when the app cannot start: a syntax error as file:line:column
 * with a code frame, an exception thrown while the app was imported with its stack (vial's own
 * frames and Node's internals left out), and an unknown option with the closest real one. Pure
 * text work over an error and a file read; the port holder lives in port-holder.ts.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.ts';

/** Where vial's own code lives (src/ in a checkout, dist/ installed, and the bin launcher). */
const VIAL_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VIAL_CODE = ['src/', 'dist/', 'bin/'].map((dir) => VIAL_ROOT + dir);

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** How many characters the parser marked (at least 1). */
  readonly width: number;
}

/** A path as the user would type it: relative to the working directory when inside it. */
export function shownPath(file: string): string {
  const path = file.startsWith('file://') ? fileURLToPath(file) : file;
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * Where a SyntaxError points. Node decorates the stack of a module that fails to parse (V8's own
 * errors and the TypeScript stripper's, ERR_INVALID_TYPESCRIPT_SYNTAX) with `file:line`, the
 * source lines around it and a caret line under the bad token; the column is the caret's offset.
 */
export function syntaxLocation(error: unknown): SourceLocation | undefined {
  if (!(error instanceof SyntaxError) || typeof error.stack !== 'string') return undefined;
  const lines = error.stack.split('\n');
  const head = /^(.+):(\d+)$/.exec(lines[0] ?? '');
  if (head === null) return undefined;
  const file = head[1]!.startsWith('file://') ? fileURLToPath(head[1]!) : head[1]!;
  const caret = lines.findIndex((l, i) => i > 0 && /^\s*\^+\s*$/.test(l));
  if (caret === -1) return { file, line: Number(head[2]), column: 1, width: 1 };
  const marks = /^(\s*)(\^+)/.exec(lines[caret]!)!;
  return { file, line: Number(head[2]), column: marks[1]!.length + 1, width: marks[2]!.length };
}

/** Two lines either side of `line`, numbered, with a caret row under the marked columns. */
export function codeFrame(source: string, at: Pick<SourceLocation, 'line' | 'column' | 'width'>, around = 2): string {
  const lines = source.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  const first = Math.max(1, at.line - around);
  const last = Math.min(lines.length, at.line + around);
  const gutter = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = lines[n - 1] ?? '';
    out.push(`${n === at.line ? '>' : ' '} ${String(n).padStart(gutter)} | ${text}`.trimEnd());
    if (n === at.line) out.push(`  ${' '.repeat(gutter)} | ${' '.repeat(at.column - 1)}${'^'.repeat(Math.max(1, at.width))}`);
  }
  return out.join('\n');
}

/** The stack without vial's frames and Node's internals; the whole stack if nothing else is left. */
export function userStack(error: Error): string {
  const stack = error.stack ?? `${error.name}: ${error.message}`;
  const lines = stack.split('\n');
  const isFrame = (l: string): boolean => /^\s+at /.test(l);
  const firstFrame = lines.findIndex(isFrame);
  if (firstFrame === -1) return stack;
  const frames = lines.slice(firstFrame).filter(isFrame);
  const own = (frame: string): boolean => {
    const where = /\(?((?:file:\/\/|\/|node:)[^()]*?):\d+:\d+\)?$/.exec(frame)?.[1];
    if (where === undefined) return frame.includes('node:internal') || frame.includes('<anonymous>');
    if (where.startsWith('node:')) return true;
    const path = where.startsWith('file://') ? fileURLToPath(where) : where;
    return VIAL_CODE.some((dir) => path.startsWith(dir));
  };
  const kept = frames.filter((f) => !own(f));
  const shown = (kept.length > 0 ? kept : frames).map((f) => f.replace(/file:\/\/[^\s():]+/g, (url) => shownPath(url)));
  return [...lines.slice(0, firstFrame), ...shown].join('\n');
}

/**
 * The error to report when importing the app module failed: a syntax error with its place and a
 * code frame, anything else with the stack of the code that threw.
 */
export function importFailure(appFile: string, error: unknown): ConfigError {
  const at = syntaxLocation(error);
  if (at !== undefined) {
    let frame = '';
    try {
      frame = `\n\n${codeFrame(readFileSync(at.file, 'utf8'), at)}`;
    } catch {
      // Intentionally empty: the place alone still says where to look.
    }
    const message = (error as SyntaxError).message;
    return new ConfigError('VIAL_ERR_APP_SYNTAX', `${shownPath(at.file)}:${at.line}:${at.column}: ${message}${frame}\n\nFix the syntax error, then run the command again.`);
  }
  const thrown = error instanceof Error ? userStack(error) : `${String(error)} (a ${typeof error} was thrown, not an Error)`;
  return new ConfigError(
    'VIAL_ERR_APP_IMPORT',
    `${shownPath(appFile)} threw while it was imported (its top-level code ran and failed):\n\n${indent(thrown)}\n\nFix the error above (vial's own stack frames are left out), then run the command again.`,
  );
}

function indent(text: string): string {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}

/** Edit distance between two short strings (option names). */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

/** The known option nearest to `given` (within a third of its length), if any. */
export function closestOption(given: string, known: readonly string[]): string | undefined {
  let best: { name: string; d: number } | undefined;
  for (const name of known) {
    const d = name.startsWith(given) || given.startsWith(name) ? Math.abs(name.length - given.length) / 2 : distance(given, name);
    if (best === undefined || d < best.d) best = { name, d };
  }
  return best !== undefined && best.d <= Math.max(2, Math.ceil(given.length / 3)) ? best.name : undefined;
}

/**
 * parseArgs' own errors turned into advice: the closest real option and the command's --help.
 * Anything else is passed on unchanged.
 */
export function optionError(command: string, known: readonly string[], error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : '';
  const help = `Run "vial ${command} --help" for the options.`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const given = /'(-{1,2}[^']+)'/.exec(message)?.[1] ?? message;
    const near = closestOption(given.replace(/^-+/, '').split('=')[0]!, known);
    return new ConfigError('VIAL_ERR_CLI', `vial ${command} has no option ${given}.${near === undefined ? '' : ` Did you mean --${near}?`} ${help}`);
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return new ConfigError('VIAL_ERR_CLI', `${message}. ${help}`);
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return new ConfigError('VIAL_ERR_CLI', `${message}. ${help}`);
  return error;
}
