/**
 * The traffic generator as its own process (so it can be pinned to the load CPU, away from the
 * harness): `node bench/lib/traffic-main.ts '<TrafficSpec as JSON>'`. Prints one
 * `VIAL_TRAFFIC [reports]` line on stdout and exits.
 */
import { runTrafficSpec } from './traffic.ts';
import type { TrafficSpec } from './traffic.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as TrafficSpec;
const reports = await runTrafficSpec(spec);
process.stdout.write(`VIAL_TRAFFIC ${JSON.stringify(reports)}\n`);
// Intentionally explicit: a socket the server never closed must not keep the generator alive.
process.exit(0);
