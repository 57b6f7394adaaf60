/**
 * A small development formatter for pino's JSON lines: one readable line per log record, coloured
 * when the stream is a TTY. Intentionally in-process and dependency-free instead of pino-pretty:
 * development needs a readable request line, not pino-pretty's full feature set, and an in-process
 * destination keeps lines in order with the app's own console output (no transport thread).
 * Production keeps plain JSON lines for the log pipeline.
 */
export interface PrettyOptions {
  /** Default process.stdout. */
  stream?: { write(chunk: string): unknown; readonly isTTY?: boolean };
  /** Default: whether the stream is a TTY (and NO_COLOR is unset). */
  color?: boolean;
}

const LEVELS: Record<number, [string, string]> = {
  10: ['TRACE', '90'], 20: ['DEBUG', '36'], 30: ['INFO ', '32'], 40: ['WARN ', '33'], 50: ['ERROR', '31'], 60: ['FATAL', '35'],
};
// Fields shown in the fixed part of the line, or pino's own bookkeeping: not repeated as key=value.
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name', 'v']);
const REQUEST_FIELDS = new Set(['reqId', 'method', 'route', 'path', 'status', 'durationMs', 'code']);

/** A pino destination (`pino(options, prettyDestination())`) that writes formatted lines. */
export function prettyDestination(options: PrettyOptions = {}): { write(line: string): void } {
  const stream = options.stream ?? process.stdout;
  const color = options.color ?? (stream.isTTY === true && process.env['NO_COLOR'] === undefined);
  const paint = color ? (code: string, text: string): string => `\x1b[${code}m${text}\x1b[0m` : (_code: string, text: string): string => text;
  return {
    write(line: string): void {
      stream.write(formatLine(line, paint) + '\n');
    },
  };
}

/** Formats one pino JSON line; a line that is not JSON passes through unchanged. Pure. */
export function formatLine(line: string, paint: (code: string, text: string) => string = (_c, t) => t): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.trimEnd();
  }
  const time = typeof record['time'] === 'number' ? new Date(record['time']).toISOString().slice(11, 23) : '';
  const [levelName, levelColor] = LEVELS[record['level'] as number] ?? ['?    ', '0'];
  const msg = typeof record['msg'] === 'string' ? record['msg'] : '';
  const isRequest = typeof record['status'] === 'number' && typeof record['method'] === 'string';
  const parts = [paint('90', time)];
  let hidden = HIDDEN;
  if (isRequest) {
    hidden = new Set([...HIDDEN, ...REQUEST_FIELDS]);
    const status = record['status'] as number;
    const statusColor = status >= 500 ? '31' : status >= 400 ? '33' : status >= 300 ? '36' : '32';
    const ms = typeof record['durationMs'] === 'number' ? `${record['durationMs'].toFixed(1)} ms` : '';
    parts.push(
      String(record['method']).padEnd(6),
      text(record['path'] ?? record['route']),
      paint(statusColor, String(status)),
      ms,
    );
    if (typeof record['code'] === 'string') parts.push(paint('31', record['code']));
    if (record['route'] !== undefined && record['path'] !== undefined) parts.push(paint('90', `(${text(record['route'])})`));
    parts.push(paint('90', text(record['reqId'])));
  } else {
    parts.push(paint(levelColor, levelName), msg);
  }
  for (const [key, value] of Object.entries(record)) {
    if (hidden.has(key) || value === undefined) continue;
    if (key === 'err' && typeof value === 'object' && value !== null && 'stack' in value) {
      parts.push('\n' + paint('31', text(value.stack)));
      continue;
    }
    parts.push(`${paint('90', key + '=')}${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return parts.filter((p) => p !== '').join(' ');
}

function text(value: unknown): string {
  return value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
}
