/**
 * What `vial run --workers 2` costs per request against one process (issue 16, target 4): the same
 * hello app under the built CLI, once as a single process and once as a supervisor with two workers,
 * all pinned to the server core. Both count the CPU of their whole process tree (the harness, the
 * supervisor, the workers), so the ratio is the price of the cluster itself: connection handoff,
 * the workers' IPC (stats, settings) and two event loops sharing a core. This machine has two cores
 * and the load generator needs one, so it cannot show scaling; req/cpu-s is the figure, not req/s.
 * The control: raw node:http with the same bytes as one process and as two workers of Node's own
 * cluster module (servers/node-http-cluster.ts), what two processes on one core cost with no
 * framework at all.
 */
import { vialRunSystem } from '../lib/kit.ts';
import type { Scenario, SystemSpec } from '../lib/index.ts';

const tree = (system: SystemSpec): SystemSpec => ({ ...system, measure: 'tree' });

const scenario: Scenario = {
  name: 'cluster',
  description: 'GET /hello under `vial run` as one process and with --workers 2 (whole process tree): req/cpu-s',
  systems: [
    tree(vialRunSystem('vial run', 'hello-app.ts', 0)),
    tree(vialRunSystem('vial run --workers 2', 'hello-app.ts', 2)),
    tree({ name: 'node:http+headers', server: 'servers/node-http-headers.ts' }),
    tree({ name: 'node:http cluster 2', server: 'servers/node-http-cluster.ts', args: ['2'] }),
  ],
  load: { path: '/hello', expect: { status: 200, body: '{"hello":"world"}' } },
  targets: [
    { label: '--workers 2 costs at most 10% req/cpu-s against one process', system: 'vial run --workers 2', metric: 'rpsPerCpu', op: '>=', factor: 0.9, of: 'vial run' },
  ],
};

export default scenario;
