/**
 * `vial doctor <url>`: a black-box check-up of a running HTTP service for the five failure classes
 * (issue 7). Probes run one after another so their loads never overlap and each measurement is its
 * own; every probe is bounded in requests and time.
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
import { Progress, formatTable, summarize } from './report.ts';
import type { Finding, Report } from './report.ts';

export type { Finding, Report, Verdict, FailureClass } from './report.ts';

export async function runDoctor(options: DoctorOptions, progress: Progress): Promise<Report> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const findings: Finding[] = [];
  const update = (text: string): void => progress.update(text);
  update('session and cookies');
  const session = await probeSession(options, findings);
  probeHeaders(options, session.firstPage, findings);
  update('csrf');
  await probeCsrf(options, session, findings);
  update('error pages and bodies');
  await probeErrors(options, session, findings);
  await probeInjection(options, findings);
  await probeLeak(options, findings, update);
  await probeRace(options, findings, update);
  // Last: a stalled server (gunicorn workers asleep in the slow route) stays stalled after the probe.
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
  const report = await runDoctor(options, new Progress(options.quiet));
  console.log(options.json ? JSON.stringify(report, null, 2) : formatTable(report));
  return report.summary.FAIL > 0 ? 1 : 0;
}

export const doctorCommand = { usage, run };
