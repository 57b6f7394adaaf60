/**
 * The race check of vial/testing: the doctor's `--race` probe as a test helper (issue 14,
 * failure 4). It replays one route under many identities at once, each request with its own id,
 * and reads every answer for ids: an answer naming another request's id means per-request state
 * lives somewhere shared (a module-level `currentUser` set in a hook and read after an await,
 * Flask's global under threads). The verdict rules are the doctor's (src/cli/doctor/probe-race.ts).
 */
import { AssertionError } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { pool } from '../cli/doctor/stats.ts';
import { checkCount, checkRoute, checkSender, fillRoute } from './check-target.ts';
import type { CheckTarget } from './check-target.ts';
import type { TestRequest } from './client.ts';

export type CheckVerdict = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';

export interface RaceCheckOptions {
  /** The app (driven in-process through the test client) or the base URL of a running server. */
  readonly target: CheckTarget;
  /** A route whose answer names the identity it was sent, with `{id}` where the id goes: `/whoami?user={id}`. */
  readonly route: string;
  /** Default GET. */
  readonly method?: string;
  /**
   * The rest of each request, for an identity carried elsewhere than the route:
   * `(id) => ({ headers: { authorization: \`Bearer ${id}\` } })`. Cookies are never shared
   * between requests, so each carries only its own identity.
   */
  readonly request?: (id: string) => TestRequest;
  /** How many requests, each with its own id. Default 1,000. */
  readonly requests?: number;
  /** How many of them are in flight at once. Default 100. */
  readonly inFlight?: number;
  /** Per request, over a socket (a URL target). Default 5,000 ms. */
  readonly timeoutMs?: number;
}

export interface RaceCrossing {
  /** The id this request was sent with. */
  readonly id: string;
  /** Another request's id that its answer named. */
  readonly named: string;
  readonly status: number;
  /** The answer's first 200 characters. */
  readonly excerpt: string;
}

export interface RaceCheckResult {
  /** FAIL: answers crossed; WARN: most answers named no id; SKIP: most requests failed; PASS otherwise. */
  readonly verdict: CheckVerdict;
  /** True only for PASS: no answer crossed, and enough answers named their own id to tell. */
  readonly ok: boolean;
  readonly requests: number;
  readonly inFlight: number;
  /** Answers that named another request's id. */
  readonly crossed: number;
  /** 2xx-3xx answers that named no id of this run at all. */
  readonly missing: number;
  /** No answer, or a status of 400 or more. */
  readonly failed: number;
  /** The first ten crossed answers. */
  readonly crossings: readonly RaceCrossing[];
  /** What happened, in a sentence fit for an assertion message. */
  readonly message: string;
}

const FIX = 'keep per-request state in the request context (vial: ctx.g or g; Flask: g), never in a module-level variable';
const MAX_CROSSINGS = 10;

/**
 * Sends `requests` requests to `route`, `inFlight` at once, each with its own id, and reports the
 * answers that named another request's id. Never throws for what the app answers; see `assertNoRace`.
 */
export async function checkRace(options: RaceCheckOptions): Promise<RaceCheckResult> {
  const requests = options.requests ?? 1_000;
  const inFlight = options.inFlight ?? 100;
  checkRoute('checkRace', options.route, 'id', options.request !== undefined);
  checkCount('checkRace', 'requests', requests, 10, 1_000_000);
  checkCount('checkRace', 'inFlight', inFlight, 2, 10_000);
  const method = options.method ?? 'GET';
  // A fresh run tag, so ids from an earlier run (a cache, a log echoed back) never count.
  const run = randomBytes(3).toString('hex');
  const idOf = (n: number): string => `u${run}x${n}`;
  const token = new RegExp(`u${run}x(\\d+)`, 'g');
  const sender = checkSender(options.target, { inFlight, timeoutMs: options.timeoutMs ?? 5_000, maxBytes: 64 * 1024 });
  const crossings: RaceCrossing[] = [];
  let crossed = 0;
  let missing = 0;
  let failed = 0;
  try {
    await pool(requests, inFlight, async (n) => {
      const id = idOf(n);
      const answer = await sender.send(method, fillRoute(options.route, 'id', id), options.request?.(id) ?? {});
      if (answer.status === 0 || answer.status >= 400) {
        failed++;
        return;
      }
      const seen = [...answer.text.matchAll(token)].map((m) => Number(m[1]));
      const other = seen.find((named) => named !== n);
      if (other !== undefined) {
        crossed++;
        if (crossings.length < MAX_CROSSINGS) crossings.push({ id, named: idOf(other), status: answer.status, excerpt: answer.text.slice(0, 200) });
      } else if (seen.length === 0) missing++;
    });
  } finally {
    sender.close();
  }
  const counts = `${crossed} of ${requests} answers from ${options.route} named another request's id (${inFlight} in flight; ${missing} named none, ${failed} failed)`;
  let verdict: CheckVerdict;
  let message: string;
  const first = crossings[0];
  if (first !== undefined) {
    verdict = 'FAIL';
    message = `${counts}; e.g. request ${first.id} got "${first.excerpt.slice(0, 80)}". Fix: ${FIX}.`;
  } else if (failed > requests / 2) {
    verdict = 'SKIP';
    message = `most requests failed, so the check did not run: ${counts}. Point it at a route that answers 2xx with the {id} it was sent.`;
  } else if (missing + failed > requests / 2) {
    verdict = 'WARN';
    message = `the route did not name the id it was sent, so the check cannot tell: ${counts}. Point it at a route whose answer carries the {id}.`;
  } else {
    verdict = 'PASS';
    message = counts;
  }
  return { verdict, ok: verdict === 'PASS', requests, inFlight, crossed, missing, failed, crossings, message };
}

/**
 * `checkRace`, failing the test unless it PASSes: an answer that crossed is a failure, and so is a
 * check that could not tell (the route named no id, or most requests failed).
 */
export async function assertNoRace(options: RaceCheckOptions): Promise<RaceCheckResult> {
  const result = await checkRace(options);
  if (!result.ok) throw new AssertionError({ message: `race check ${result.verdict}: ${result.message}`, actual: result.crossed, expected: 0, operator: 'checkRace' });
  return result;
}
