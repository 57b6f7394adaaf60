/**
 * `vial doctor <url>`: a black-box check-up of a running HTTP service for the five failure classes
 * (issue 7, made right on broken and fixed services in issue 14). The target must answer first:
 * nothing listening is exit 2, never a report of PASSes. Probes run one after another so their
 * loads never overlap and each measurement is its own; every probe is bounded in requests and time.
 */
import { parseDoctorArgs, usage, DoctorError } from './options.ts';
import type { DoctorOptions } from './options.ts';
import { probeSession } from './probe-session.ts';
import { probeCsrf } from './probe-csrf.ts';
import { probeHeaders } from './probe-headers.ts';
import { probeErrors } from './probe-errors.ts';
import { probeInjection } from './probe-injection.ts';
import { probeExhaustion } from './probe-exhaustion.ts';
import { probeLeak } from './probe-leak.ts';
import { probeRace } from './probe-race.ts';
import { probeAsync } from './probe-async.ts';
import { preparePost } from './post-target.ts';
import { send } from './http.ts';
import { Progress, formatTable, summarize } from './report.ts';
import type { Finding, Phase, Report } from './report.ts';

export type { Finding, Report, Verdict, FailureClass, CheckId } from './report.ts';
export { CHECK_IDS } from './report.ts';

/** Planned phases with rough durations, for the ETA (the load probes are bounded, so these hold). */
export function plannedPhases(options: DoctorOptions): Phase[] {
  const phases: Phase[] = [{ name: 'security', estimateMs: 1_000 + 1_500 * options.posts.length + 500 * options.logins.length }];
  if (options.leak !== undefined) phases.push({ name: 'leak', estimateMs: options.requests * 2 });
  if (options.race !== undefined) phases.push({ name: 'race', estimateMs: options.raceRequests });
  if (options.asyncRoute !== undefined) phases.push({ name: 'async', estimateMs: 4_000 });
  if (options.slows.length > 0) phases.push({ name: 'exhaustion', estimateMs: options.seconds * 1000 + 3_000 });
  return phases;
}

/** Throws VIAL_ERR_DOCTOR_UNREACHABLE when nothing answers at the target: no check can run. */
export async function checkReachable(options: DoctorOptions): Promise<void> {
  const page = options.pages[0] ?? '/';
  const answer = await send(options.target, page, { timeoutMs: options.timeoutMs, maxBytes: 1024 });
  if (answer.status > 0) return;
  const why = answer.timedOut ? `no answer within ${options.timeoutMs} ms` : `${answer.error ?? 'the connection closed'}`;
  throw new DoctorError(
    'VIAL_ERR_DOCTOR_UNREACHABLE',
    `nothing answers at ${new URL(page, options.target).href} (${why}), so no check ran. Start the service (or wait until it listens) and check the URL and port, then run the doctor again.`,
  );
}

export async function runDoctor(options: DoctorOptions, progress: Progress): Promise<Report> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const findings: Finding[] = [];
  const update = (text: string, share?: number): void => progress.update(text, share);
  progress.plan(plannedPhases(options));
  await checkReachable(options);
  progress.phase('security');
  const session = await probeSession(options, findings);
  probeHeaders(options, session.firstPage, findings);
  const targets = [];
  for (const route of options.posts) targets.push(await preparePost(options, session, route));
  await probeCsrf(options, session, targets, findings);
  await probeErrors(options, session, targets, findings);
  await probeInjection(options, findings);
  if (options.leak !== undefined) progress.phase('leak');
  await probeLeak(options, findings, update);
  if (options.race !== undefined) progress.phase('race');
  await probeRace(options, findings, update);
  if (options.asyncRoute !== undefined) progress.phase('async');
  await probeAsync(options, findings, update);
  // Last: a stalled server (gunicorn workers asleep in the slow route) stays stalled after the probe.
  if (options.slows.length > 0) progress.phase('exhaustion');
  await probeExhaustion(options, findings, update);
  progress.done();
  return { target: options.target.href, startedAt, durationMs: Math.round(performance.now() - started), findings, summary: summarize(findings) };
}

async function run(args: string[]): Promise<number> {
  let options: DoctorOptions | 'help';
  try {
    options = parseDoctorArgs(args);
  } catch (error) {
    // Bad arguments exit 2, so CI can tell "the service failed a check" (1) from "the check was mis-written".
    const message = error instanceof Error ? error.message : String(error);
    console.error(`vial doctor: ${message}${error instanceof DoctorError ? '' : `\n\n${usage}`}`);
    return 2;
  }
  if (options === 'help') {
    console.log(usage);
    return 0;
  }
  let report: Report;
  try {
    report = await runDoctor(options, new Progress(options.quiet));
  } catch (error) {
    if (!(error instanceof DoctorError)) throw error;
    // Exit 2 like bad arguments: "the service failed a check" (1) needs a service that answered.
    console.error(`vial doctor: ${error.message}`);
    if (options.json) console.log(JSON.stringify({ target: options.target.href, error: { code: error.code, message: error.message } }, null, 2));
    return 2;
  }
  console.log(options.json ? JSON.stringify(report, null, 2) : formatTable(report));
  return report.summary.FAIL > 0 ? 1 : 0;
}

export const doctorCommand = { usage, run };
