/**
 * vial serving scenario-app.ts on one process. Also prints every `vial:leak` event as one
 * `leak {json}` line (growth and the top allocation sites by file:line), so the memory scenario
 * can read from the server's output which line the alarm named.
 */
import diagnostics from 'node:diagnostics_channel';
import { app } from './scenario-app.ts';
import { announce, benchPort, HOST } from './port.ts';

interface LeakEvent {
  readonly floorGrowthBytes: number;
  readonly topSites: readonly { readonly functionName: string; readonly location: string; readonly growthBytes: number }[];
}

diagnostics.subscribe('vial:leak', (message) => {
  const event = message as LeakEvent;
  const sites = event.topSites.slice(0, 3).map((s) => ({ fn: s.functionName, at: s.location, growthBytes: s.growthBytes }));
  process.stdout.write(`leak ${JSON.stringify({ floorGrowthBytes: event.floorGrowthBytes, sites })}\n`);
});

const running = await app.listen({ port: benchPort(), host: HOST });
announce(running.port, () => running.close());
