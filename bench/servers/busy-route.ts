/** The blocking /slow route run whole in vial's worker-thread pool (`{ worker }`): 2 s of CPU, off the event loop. */
import { busyLoop } from './busy.ts';

export default function busyRoute(): { slow: true; spins: number } {
  return { slow: true, spins: busyLoop(2000) };
}
