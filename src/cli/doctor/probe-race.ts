/**
 * Context race: many interleaved requests, each with its own value, to a route that echoes it.
 * An answer carrying another request's value means per-request state lives somewhere shared
 * (Flask's global current_user under threads; a module variable set in a hook and read after an await).
 */
import { randomBytes } from 'node:crypto';
import { makeAgent, send } from './http.ts';
import type { DoctorOptions } from './options.ts';
import type { Finding } from './report.ts';
import { pool } from './stats.ts';

export async function probeRace(options: DoctorOptions, findings: Finding[], progress: (text: string) => void): Promise<void> {
  const template = options.race;
  if (template === undefined) return;
  const run = randomBytes(3).toString('hex');
  const token = new RegExp(`u${run}x(\\d+)`, 'g');
  const agent = makeAgent(options.target, options.raceInFlight);
  let foreign = 0;
  let missing = 0;
  let failed = 0;
  let example = '';
  try {
    await pool(options.raceRequests, options.raceInFlight, async (n) => {
      if (n % 200 === 0) progress(`race: ${n}/${options.raceRequests} requests, ${foreign} crossed`);
      const answer = await send(options.target, template.replaceAll('{id}', `u${run}x${n}`), { agent, timeoutMs: options.timeoutMs, maxBytes: 8 * 1024 });
      if (answer.status === 0 || answer.status >= 400) {
        failed++;
        return;
      }
      const seen = [...answer.body.matchAll(token)].map((m) => Number(m[1]));
      const other = seen.find((id) => id !== n);
      if (other !== undefined) {
        foreign++;
        if (example === '') example = `request u${run}x${n} got an answer naming u${run}x${other}`;
      } else if (seen.length === 0) missing++;
    });
  } finally {
    agent.destroy();
  }
  const probe = `race ${template.split('?')[0] ?? template}`;
  const data = { requests: options.raceRequests, inFlight: options.raceInFlight, crossed: foreign, missing, failed };
  const counts = `${foreign} of ${options.raceRequests} answers carried another request's value (${options.raceInFlight} in flight; ${missing} without any value, ${failed} failed)`;
  const fix = 'keep per-request state in the request context (Flask g / flask_login.current_user, vial ctx.g or g), never in a module-level variable';
  if (foreign > 0) findings.push({ check: 'race', class: 'race', probe, verdict: 'FAIL', evidence: `${counts}; e.g. ${example}`, fix, data });
  else if (failed > options.raceRequests / 2) findings.push({ check: 'race', class: 'race', probe, verdict: 'SKIP', evidence: `most requests failed, so the check did not run: ${counts}`, fix: 'point --race at a route that answers 2xx with the {id} it was given', data });
  else if (missing + failed > options.raceRequests / 2) findings.push({ check: 'race', class: 'race', probe, verdict: 'WARN', evidence: `the route did not echo the value: ${counts}`, fix: 'point --race at a route that returns the {id} it was given', data });
  else findings.push({ check: 'race', class: 'race', probe, verdict: 'PASS', evidence: counts, fix, data });
}
