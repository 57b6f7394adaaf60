/**
 * One call that builds every load-protection piece from the resolved `config.load` slice and
 * wires pressure into admission, so the app holds one object with one start and one close.
 */
import { createAdmission } from './admission.ts';
import { requestPopulation } from './connections.ts';
import type { Admission } from './admission.ts';
import { DeadlineTracker } from './deadline.ts';
import { createOffloadPool } from './offload.ts';
import { traceOffloadPool } from '../telemetry/child-spans.ts';
import type { OffloadPool } from './offload.ts';
import type { LoadOptions } from './options.ts';
import { PressureMonitor } from './pressure.ts';
import type { PressureSource } from './pressure.ts';

export interface LoadProtection {
  readonly admission: Admission;
  readonly deadlines: DeadlineTracker;
  readonly pressure: PressureMonitor;
  readonly offload: OffloadPool;
  /** Starts pressure sampling (call when the server starts listening). */
  start(): void;
  /** Refuses new work with 'closing', waits for in-flight requests, then stops timers and threads. */
  close(): Promise<void>;
}

export function createLoadProtection(load: Readonly<LoadOptions>, source?: PressureSource): LoadProtection {
  const pressure = new PressureMonitor(load.pressure, source);
  // Open connections bound the requests outstanding (connections.ts counts an HTTP/2-capable one as
  // the most streams it may carry, so a TLS server's population never looks bounded).
  const admission = createAdmission(load.admission, load.pressure.enabled ? { pressure, population: requestPopulation } : {});
  const deadlines = new DeadlineTracker(load.deadlines);
  // An `offload` span per task inside traced requests (telemetry/child-spans.ts).
  const offload = traceOffloadPool(createOffloadPool(load.offload));
  return {
    admission,
    deadlines,
    pressure,
    offload,
    start() {
      pressure.start();
    },
    async close() {
      admission.close();
      pressure.stop();
      await admission.drained();
      deadlines.close();
      await offload.close();
    },
  };
}
