/**
 * `vial doctor` arguments: parsed and checked once into a frozen object the probes read. Pure: no I/O.
 * The doctor only talks to loopback unless the operator names another host with --allow-host:
 * it sends forged cross-site requests, 5 MiB bodies and thousands of requests, which nobody should
 * aim at someone else's service by a typo.
 */
import { parseArgs } from 'node:util';
import { VialError } from '../../errors.ts';

export class DoctorError extends VialError {
  constructor(code: 'VIAL_ERR_DOCTOR_USAGE' | 'VIAL_ERR_DOCTOR_TARGET' | 'VIAL_ERR_DOCTOR_UNREACHABLE', message: string) {
    super(code, message, { status: 500, expose: false });
  }
}

export interface LoginStep {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

/** A state-changing route, with the form fields the operator gave (the page's own form fills the rest). */
export interface PostRoute {
  readonly path: string;
  /** `a=1&b=2`, possibly empty. */
  readonly body: string;
}

export interface DoctorOptions {
  readonly target: URL;
  readonly pages: readonly string[];
  readonly logins: readonly LoginStep[];
  readonly posts: readonly PostRoute[];
  readonly reflects: readonly string[];
  readonly slows: readonly string[];
  readonly fast: string | undefined;
  readonly asyncRoute: string | undefined;
  readonly asyncClients: number;
  readonly clients: number;
  readonly seconds: number;
  readonly stallMs: number;
  readonly recoveryMaxSec: number;
  readonly leak: string | undefined;
  readonly requests: number;
  readonly warmupKeys: number;
  readonly pid: number | undefined;
  readonly admin: URL | undefined;
  readonly race: string | undefined;
  readonly raceRequests: number;
  readonly raceInFlight: number;
  readonly timeoutMs: number;
  readonly json: boolean;
  readonly quiet: boolean;
}

export const usage = `Usage: vial doctor <url> [options]

Probes a running HTTP service (vial, Flask, Express, anything) for the five failure classes and
reports, class by class, what it found, with evidence and the fix. Point it at a test instance:
it sends forged cross-site POSTs, large bodies and bursts of requests.

Security (always run):
  --page PATH          page to GET for cookies and headers (repeatable; default /)
  --login 'POST /login user=a&password=b'   a login step, sent as a same-origin form (repeatable)
  --post 'PATH [a=1&b=2]'   a state-changing POST route to test for CSRF and body limits
                       (repeatable); the fields of the page's own form are filled in, the given ones win
  --reflect 'PATH?next={value}'   a route that echoes a query value into a header or redirect
Exhaustion and async (need --fast):
  --slow PATH (repeatable) --fast PATH [--clients 20] [--seconds 10] [--stall-ms 1000]
                       [--recovery-max-sec 30]
  --async PATH [--async-clients 16]   a route that awaits (I/O, sleep): sent N at once, does it
                       hold a worker, does it stall the others
Leak:
  --leak 'PATH?key={n}&value=x' [--requests 20000] [--warmup-keys N] [--pid PID | --admin URL]
Context race:
  --race 'PATH?user={id}' [--race-requests 2000] [--race-in-flight 100]
Output:
  --json               machine-readable report on stdout
  --quiet              no progress line (also off when stderr is not a TTY or CI is set)
  --timeout-ms N       per-request timeout (default 5000)
  --allow-host HOST    allow a target that is not loopback (repeatable)

Exit code: 0 when nothing FAILs, 1 when something does, 2 for bad arguments or a target that does not answer.`;

const LOOPBACK_NAMES = new Set(['localhost', '[::1]', '::1']);

export function isLoopback(hostname: string): boolean {
  if (LOOPBACK_NAMES.has(hostname.toLowerCase()) || hostname.toLowerCase().endsWith('.localhost')) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function checkHost(label: string, url: URL, allowed: readonly string[]): void {
  if (isLoopback(url.hostname) || allowed.includes(url.hostname.toLowerCase())) return;
  throw new DoctorError(
    'VIAL_ERR_DOCTOR_TARGET',
    `${label} ${url.origin} is not a loopback address. The doctor sends forged and oversized requests, so it only ` +
      `probes 127.0.0.0/8, localhost and ::1 by default. If you own ${url.hostname} and it is a test instance, add --allow-host ${url.hostname}.`,
  );
}

function parseUrl(label: string, text: string): URL {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // fall through to the usage error
  }
  throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `${label} must be an http(s) URL like http://127.0.0.1:5000, got "${text}".`);
}

function int(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `--${name} must be an integer from ${min} to ${max}, got "${text}".`);
  return n;
}

function path(name: string, text: string): string {
  if (!text.startsWith('/')) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `--${name} takes a path starting with /, got "${text}".`);
  return text;
}

export function parseLogin(text: string): LoginStep {
  const match = /^\s*([A-Z]+)\s+(\/\S*)(?:\s+(.*))?$/.exec(text);
  if (match === null) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `--login must look like 'POST /login user=a&password=b', got "${text}".`);
  return { method: match[1] ?? 'POST', path: match[2] ?? '/', body: (match[3] ?? '').trim() };
}

export function parsePost(text: string): PostRoute {
  const match = /^\s*(\S+)(?:\s+(.*))?$/.exec(text);
  return { path: path('post', match?.[1] ?? text), body: (match?.[2] ?? '').trim() };
}

export function parseDoctorArgs(args: string[]): DoctorOptions | 'help' {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      page: { type: 'string', multiple: true },
      login: { type: 'string', multiple: true },
      post: { type: 'string', multiple: true },
      reflect: { type: 'string', multiple: true },
      slow: { type: 'string', multiple: true },
      fast: { type: 'string' },
      async: { type: 'string' },
      'async-clients': { type: 'string' },
      'recovery-max-sec': { type: 'string' },
      'warmup-keys': { type: 'string' },
      clients: { type: 'string' },
      seconds: { type: 'string' },
      'stall-ms': { type: 'string' },
      leak: { type: 'string' },
      requests: { type: 'string' },
      pid: { type: 'string' },
      admin: { type: 'string' },
      race: { type: 'string' },
      'race-requests': { type: 'string' },
      'race-in-flight': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'allow-host': { type: 'string', multiple: true },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
    },
  });
  if (values.help === true) return 'help';
  if (positionals.length !== 1 || positionals[0] === undefined) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `Give exactly one target URL.\n\n${usage}`);
  const allowed = (values['allow-host'] ?? []).map((h) => h.toLowerCase());
  const target = parseUrl('The target', positionals[0]);
  checkHost('The target', target, allowed);
  const admin = values.admin === undefined ? undefined : parseUrl('--admin', values.admin);
  if (admin !== undefined) checkHost('--admin', admin, allowed);
  if ((values.slow !== undefined || values.async !== undefined) && values.fast === undefined) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', '--slow and --async need --fast: the doctor holds the slow route and times the fast one.');
  if (values.fast !== undefined && values.slow === undefined && values.async === undefined) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', '--fast goes with --slow or --async: the doctor times it while holding those.');
  if (values.pid !== undefined && admin !== undefined) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', 'Give --pid or --admin, not both.');
  if (values.leak !== undefined && !values.leak.includes('{n}')) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `--leak needs a {n} placeholder for the unique value, got "${values.leak}".`);
  if (values.race !== undefined && !values.race.includes('{id}')) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `--race needs an {id} placeholder for the per-request value, got "${values.race}".`);
  const requests = int('requests', values.requests, 20_000, 100, 1_000_000);
  for (const r of values.reflect ?? []) if (!r.includes('{value}')) throw new DoctorError('VIAL_ERR_DOCTOR_USAGE', `--reflect needs a {value} placeholder, got "${r}".`);
  return Object.freeze({
    target,
    pages: (values.page ?? ['/']).map((p) => path('page', p)),
    logins: (values.login ?? []).map(parseLogin),
    posts: (values.post ?? []).map(parsePost),
    reflects: (values.reflect ?? []).map((p) => path('reflect', p)),
    slows: (values.slow ?? []).map((p) => path('slow', p)),
    fast: values.fast === undefined ? undefined : path('fast', values.fast),
    asyncRoute: values.async === undefined ? undefined : path('async', values.async),
    asyncClients: int('async-clients', values['async-clients'], 16, 2, 200),
    recoveryMaxSec: int('recovery-max-sec', values['recovery-max-sec'], 30, 1, 600),
    clients: int('clients', values.clients, 20, 1, 1000),
    seconds: int('seconds', values.seconds, 10, 1, 300),
    stallMs: int('stall-ms', values['stall-ms'], 1000, 10, 60_000),
    leak: values.leak === undefined ? undefined : path('leak', values.leak),
    requests,
    warmupKeys: int('warmup-keys', values['warmup-keys'], Math.floor(requests * 0.4), 0, requests - 50),
    pid: values.pid === undefined ? undefined : int('pid', values.pid, 0, 1, 2 ** 22),
    admin,
    race: values.race === undefined ? undefined : path('race', values.race),
    raceRequests: int('race-requests', values['race-requests'], 2000, 10, 100_000),
    raceInFlight: int('race-in-flight', values['race-in-flight'], 100, 2, 1000),
    timeoutMs: int('timeout-ms', values['timeout-ms'], 5000, 100, 120_000),
    json: values.json === true,
    quiet: values.quiet === true,
  });
}
