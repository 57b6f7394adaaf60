/**
 * The fleet view (issue 20): Debian's prometheus scrapes two vial processes, and every PromQL
 * expression of the shipped Grafana dashboard (docs/grafana/vial-dashboard.json) and rules file
 * (docs/prometheus/vial-rules.yml) runs against it. The expressions are read from the shipped
 * files, so what is tested is what users import; an expression without a check here fails the test.
 *
 * Traffic comes in two phases. A warm-up before Prometheus's first scrape creates the series; the
 * known traffic after it. Prometheus's rate() and increase() only see a counter move between two
 * samples it holds, so a series' first value is invisible to them (the warm-up), and they
 * extrapolate to the edges of the window: with the window covering the whole test, increase() lies
 * in [N, N * (1 + 2.2 / (n - 2))] for N requests over n samples (Prometheus's extrapolatedRate
 * extends the sampled interval by less than 1.1 average sample intervals at each end; n - 2, not
 * n - 1, because n is counted before the queries run). That is the only tolerance here; counter
 * totals, gauges and ratios are exact.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { send } from './helpers/net.ts';
import { connect as connectWebSocket } from './helpers/ws.ts';
import type { TestSocket } from './helpers/ws.ts';
import { pollUntil, waitUntil } from './helpers/wait.ts';
import { DASHBOARD, PROMETHEUS, PROMTOOL, RULES, api, query, startPrometheus, startVial } from './fixtures/fleet/harness.ts';
import type { Prometheus, Sample, VialInstance } from './fixtures/fleet/harness.ts';

const skip = existsSync(PROMETHEUS) ? false : `${PROMETHEUS} is missing: install Debian's prometheus (apt-get install prometheus; scripts/system-deps.sh)`;

/** The window every rate() runs over in this test: it covers the whole test. */
const WINDOW = '5m';
const WINDOW_SEC = 300;

// Known traffic after Prometheus's first scrape. Instance 1: 30 x /a, 5 x /slow, 3 x /limited
// (all 429), 1 x /block, 2 idle sockets, 3 cache entries. Instance 2: 20 x /a, 10 x /b, 4 x /boom,
// 5 x /nope (404), a /hold pair (one shed with 503), 2 x /limited (429), 3 idle sockets, 5 entries.
// WebSockets on /echo: 2 on instance 1 sending 3 messages each, 1 on instance 2 sending 4 (each
// echoed); they count as open connections too.
const N = { a: 50, b: 10, slow: 5, boom: 4, limited: 5, notFound: 5, shed: 1, wsOpened: 3, wsMessages: 10 };

interface Target {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}
interface DashboardPanel {
  title: string;
  panels?: DashboardPanel[];
  targets?: { refId: string; expr: string }[];
}
interface Dashboard {
  panels: DashboardPanel[];
  templating: { list: { name: string; type: string; query?: { query: string } }[] };
}

function dashboardTargets(dashboard: Dashboard): Target[] {
  const walk = (panels: DashboardPanel[]): Target[] =>
    panels.flatMap((p) => [...(p.targets ?? []).map((t) => ({ panel: p.title, refId: t.refId, expr: t.expr })), ...walk(p.panels ?? [])]);
  return walk(dashboard.panels);
}

/** Grafana's variables as the test sets them: job "vial", every instance, a fixed window. */
function substitute(expr: string): string {
  const out = expr.replaceAll('$__rate_interval', WINDOW).replaceAll('$__range', WINDOW).replaceAll('$job', 'vial').replaceAll('$instance', '.*');
  assert.doesNotMatch(out, /\$/, `a Grafana variable the test does not set is left in ${out}`);
  return out;
}

/** Samples keyed by the values of `labels`, joined with a space. */
function by(samples: readonly Sample[], ...labels: string[]): Map<string, number> {
  const map = new Map<string, number>();
  for (const s of samples) {
    const key = labels.map((l) => s.metric[l] ?? '').join(' ');
    assert.ok(!map.has(key), `two samples for ${key}: ${JSON.stringify(samples)}`);
    map.set(key, s.value);
  }
  return map;
}

interface Context {
  readonly i1: string;
  readonly i2: string;
  /** Upper bound of Prometheus's extrapolation factor for this run. */
  readonly factor: number;
  /** increase() of `expected` requests: in [expected, expected * factor]. */
  count(value: number | undefined, expected: number, what: string): void;
  /** rate() over the window of `expected` requests. */
  rate(value: number | undefined, expected: number, what: string): void;
  /**
   * rate() of a series that appeared mid-run (its first sample already counts some requests):
   * Prometheus extrapolates it back towards zero by up to one more scrape interval than the
   * warm-up series, so the bound is [expected, 2 x expected] (CI saw 7.6 for 5).
   */
  rateOfNew(value: number | undefined, expected: number, what: string): void;
}

type Check = (samples: Sample[], c: Context) => void;


const requestRateByRoute: Check = (s, c) => {
  const m = by(s, 'route');
  c.rate(m.get('GET /a'), N.a, '/a');
  c.rate(m.get('GET /b'), N.b, '/b');
  c.rate(m.get('GET /slow'), N.slow, '/slow');
  c.rate(m.get('GET /boom'), N.boom, '/boom');
  // Created by the known traffic: its first value is invisible to rate() (the panel says so).
  assert.equal(m.get('GET /block'), 0);
};
const p99ByRoute: Check = (s) => {
  const m = by(s, 'route');
  // Every /slow request took at least 30 ms: its p99 is at least the 25 ms bucket's upper bound.
  assert.ok((m.get('GET /slow') ?? 0) >= 0.025, `p99 of /slow ${m.get('GET /slow')}`);
  for (const route of ['GET /a', 'GET /b']) assert.ok(Number.isFinite(m.get(route)) && (m.get(route) ?? 0) > 0, `p99 of ${route}: ${m.get(route)}`);
};
const errorRatioByRoute: Check = (s) => {
  const m = by(s, 'route');
  assert.equal(m.get('GET /boom'), 1);
  // Only routes that ever answered 5xx have a 5xx series to divide: /a and /b have no line.
  assert.ok(!m.has('GET /a') && !m.has('GET /b'));
  // The shed /hold made its 5xx series with the known traffic: 0 / 0 over the window.
  assert.ok(Number.isNaN(m.get('GET /hold')));
};
const shedByReason: Check = (s, c) => {
  const m = by(s, 'reason');
  c.rate(m.get('route-full'), N.shed, 'route-full');
  for (const reason of ['queue-full', 'queue-timeout', 'route-blocking', 'pressure', 'closing']) assert.equal(m.get(reason), 0, reason);
};
const limitedByRoute = (labels: string[]): Check => (s, c) => {
  assert.equal(s.length, 1, JSON.stringify(s));
  const sample = s[0]!;
  assert.equal(sample.metric.route, 'GET /limited');
  if (labels.includes('limit')) assert.equal(sample.metric.limit, 'route');
  assert.equal(sample.metric.key, 'ip');
  c.rate(sample.value, N.limited, 'limited');
};
const openConnectionsTotal: Check = (s) => {
  assert.equal(s.length, 1);
  assert.equal(s[0]!.value, 8);
};
const zeroForEcho: Check = (s) => assert.deepEqual(by(s, 'route'), new Map([['GET /echo', 0]]));

/** One check per panel target (`title / refId`), exact where the value is exact. */
const DASHBOARD_CHECKS: Record<string, Check> = {
  'Request rate by route / A': requestRateByRoute,
  'p99 latency by route / A': p99ByRoute,
  'Request rate by instance / A': (s, c) => {
    const m = by(s, 'instance');
    assert.equal(m.size, 2);
    // Known traffic on series the warm-up created: 30 /a + 5 /slow + 3 /limited 429s; 20 /a +
    // 10 /b + 4 /boom + 2 /limited 429s (the 404s, the /hold pair and /block made new series).
    c.rate(m.get(c.i1), 38, 'instance 1');
    c.rate(m.get(c.i2), 36, 'instance 2');
  },
  'p50 / p99 latency, all routes / A': (s) => {
    assert.equal(s.length, 1);
    assert.ok(Number.isFinite(s[0]!.value) && s[0]!.value > 0, `fleet p50 ${s[0]!.value}`);
  },
  'p50 / p99 latency, all routes / B': (s) => {
    assert.equal(s.length, 1);
    // /slow is 5 of 79 requests (over 1%): the fleet p99 lands in its buckets.
    assert.ok(s[0]!.value >= 0.025, `fleet p99 ${s[0]!.value}`);
  },
  '5xx ratio by route / A': errorRatioByRoute,
  'Responses by status class / A': (s, c) => {
    const m = by(s, 'status_class');
    c.rate(m.get('2xx'), N.a + N.b + N.slow, '2xx');
    c.rateOfNew(m.get('4xx'), N.limited, '4xx (the 404s made a new series)');
    c.rateOfNew(m.get('5xx'), N.boom, '5xx (the shed /hold made a new series)');
  },
  'Shed (503) by reason / A': shedByReason,
  'Shed (503) by route / A': (s, c) => {
    const m = by(s, 'route');
    c.rate(m.get('GET /hold'), N.shed, '/hold');
    assert.equal(m.get('GET /a'), 0);
  },
  'Rate-limited (429) by route and key / A': limitedByRoute(['limit']),
  'Rate-limit store errors / A': (s) => assert.deepEqual(s, [], 'the memory store never fails'),
  'Rate-limited since start, by instance and route / A': (s, c) => {
    const m = by(s, 'instance', 'route', 'key');
    // Warm-up and known 429s: 1 + 3 on instance 1, 1 + 2 on instance 2.
    assert.deepEqual(m, new Map([[`${c.i1} GET /limited ip`, 4], [`${c.i2} GET /limited ip`, 3]]));
  },
  'Deadlines expired (504) / A': (s, c) => assert.deepEqual(by(s, 'instance'), new Map([[c.i1, 0], [c.i2, 0]])),
  'Event-loop blocks by route / A': (s) => {
    // The only block made its series: increase() sees 0 (the totals panel and the alert see it).
    assert.deepEqual(by(s, 'route'), new Map([['GET /block', 0]]));
  },
  'Event-loop blocks since start, by instance and route / A': (s, c) => assert.deepEqual(by(s, 'instance', 'route'), new Map([[`${c.i1} GET /block`, 1]])),
  'Event-loop delay p99 by instance / A': (s) => {
    assert.equal(s.length, 2);
    for (const { value } of s) assert.ok(Number.isFinite(value) && value >= 0);
  },
  'Event-loop utilisation and overload / A': (s) => {
    assert.equal(s.length, 2);
    for (const { value } of s) assert.ok(value >= 0 && value <= 1, `utilisation ${value}`);
  },
  'Event-loop utilisation and overload / B': (s, c) => assert.deepEqual(by(s, 'instance'), new Map([[c.i1, 0], [c.i2, 0]])),
  'Long turns of many requests / A': (s) => {
    assert.equal(s.length, 2);
    for (const { value } of s) assert.ok(Number.isFinite(value) && value >= 0);
  },
  'In flight and queued / A': (s, c) => assert.deepEqual(by(s, 'instance'), new Map([[c.i1, 0], [c.i2, 0]])),
  'In flight and queued / B': (s, c) => assert.deepEqual(by(s, 'instance'), new Map([[c.i1, 0], [c.i2, 0]])),
  'Cache entries by cache / A': (s) => {
    const m = by(s, 'cache');
    assert.equal(m.get('fleet-items'), 8);
    // One rate-limit key (127.0.0.1 on GET /limited) in each instance's memory store.
    assert.equal(m.get('ratelimit'), 2);
  },
  'Cache fill (entries / bound) by instance / A': (s, c) => {
    const m = by(s, 'instance', 'cache');
    assert.equal(m.get(`${c.i1} fleet-items`), 0.03);
    assert.equal(m.get(`${c.i2} fleet-items`), 0.05);
  },
  'Cache bytes / A': (s) => assert.ok(!by(s, 'cache').has('fleet-items'), 'fleet-items is not byte-bounded: it has no bytes series'),
  'Cache evictions / A': (s) => {
    const m = by(s, 'cache');
    assert.equal(m.get('fleet-items'), 0);
    assert.equal(m.get('ratelimit'), 0);
  },
  'Cache hit ratio / A': (s) => {
    const m = by(s, 'cache');
    // Every known /limited call found its key: hits only, on both instances.
    assert.equal(m.get('ratelimit'), 1);
    assert.ok(Number.isNaN(m.get('fleet-items')), 'no reads of fleet-items: 0/0');
  },
  // Idle sockets plus WebSockets: 2 + 2 and 3 + 1.
  'Open client connections by instance / A': (s, c) => assert.deepEqual(by(s, 'instance'), new Map([[c.i1, 4], [c.i2, 4]])),
  'Open client connections by instance / B': (s) => {
    assert.equal(s.length, 2);
    for (const { value } of s) assert.ok(value > 5);
  },
  'Connections refused at the cap / A': (s, c) => assert.deepEqual(by(s, 'instance'), new Map([[c.i1, 0], [c.i2, 0]])),
  'Memory by instance: RSS, heap used, heap floor after GC / A': (s) => {
    assert.equal(s.length, 2);
    for (const { value } of s) assert.ok(value > 10 * 1024 * 1024, `rss ${value}`);
  },
  'Memory by instance: RSS, heap used, heap floor after GC / B': (s) => {
    assert.equal(s.length, 2);
    for (const { value } of s) assert.ok(value > 1024 * 1024, `heap used ${value}`);
  },
  'Memory by instance: RSS, heap used, heap floor after GC / C': (s) => {
    assert.equal(s.length, 2);
    for (const { value } of s) assert.ok(value >= 0);
  },
  'Leak alarms / A': (s, c) => assert.deepEqual(by(s, 'instance'), new Map([[c.i1, 0], [c.i2, 0]])),
  'Open WebSockets by route / A': (s) => assert.deepEqual(by(s, 'route'), new Map([['GET /echo', 3]])),
  // The default bulkhead, 1000 sockets per instance.
  'Open WebSockets by route / B': (s) => assert.deepEqual(by(s, 'route'), new Map([['GET /echo', 2000]])),
  'WebSocket messages by route / A': (s, c) => c.rate(by(s, 'route').get('GET /echo'), N.wsMessages, 'messages in'),
  'WebSocket messages by route / B': (s, c) => c.rate(by(s, 'route').get('GET /echo'), N.wsMessages, 'messages out'),
  'WebSocket handshakes by route / A': (s, c) => c.rate(by(s, 'route').get('GET /echo'), N.wsOpened, 'opened'),
  'WebSocket handshakes by route / B': zeroForEcho,
  'WebSockets closed by vial / A': zeroForEcho,
  'WebSockets closed by vial / B': zeroForEcho,
  'WebSockets closed by vial / C': zeroForEcho,
};

/** One check per rule of the rules file: its expression, run as an instant query. */
const RULE_CHECKS: Record<string, Check> = {
  'route:vial_http_requests:rate5m': (s, c) => {
    assert.ok(s.every((x) => x.metric.job === 'vial'));
    requestRateByRoute(s, c);
  },
  'route:vial_http_request_duration_seconds:p99_5m': p99ByRoute,
  'route:vial_http_errors:ratio_rate5m': errorRatioByRoute,
  'reason:vial_shed:rate5m': shedByReason,
  'route:vial_ratelimit_limited:rate5m': limitedByRoute([]),
  'job:vial_open_connections:sum': openConnectionsTotal,
  VialSustainedShedding: (s, c) => {
    // Instance 2 refused 1 of its ~36 counted requests (about 2.8%, over the 1% threshold).
    assert.deepEqual(s.map((x) => x.metric.instance), [c.i2]);
    assert.ok(s[0]!.value > 0.01 && s[0]!.value <= c.factor / 36, `shed ratio ${s[0]!.value}`);
  },
  VialLeakAlarm: (s) => assert.deepEqual(s, []),
  VialEventLoopBlocked: (s, c) => {
    // The first block of a route creates its series: the `unless ... offset` half catches it.
    assert.deepEqual(by(s, 'instance', 'route'), new Map([[`${c.i1} GET /block`, 1]]));
  },
  VialRouteSlowP99: (s) => assert.deepEqual(s, []),
  VialConnectionsNearCap: (s) => assert.deepEqual(s, []),
};

interface RuleGroup {
  name: string;
  rules: { name: string; query: string; type: 'recording' | 'alerting'; health: string; lastError?: string; state?: string; alerts?: { labels: Record<string, string>; state: string }[] }[];
}

describe('the shipped Grafana dashboard and Prometheus rules against two vial processes', { skip }, () => {
  let one: VialInstance | undefined;
  let two: VialInstance | undefined;
  let prometheus: Prometheus | undefined;
  const sockets: Socket[] = [];
  const webSockets: TestSocket[] = [];
  const agent = new Agent({ keepAlive: false });
  let context: Context;

  const get = async (instance: VialInstance, path: string, times = 1): Promise<number[]> => {
    const statuses: number[] = [];
    for (let i = 0; i < times; i++) statuses.push((await send(instance.port, agent, 'GET', path)).status);
    return statuses;
  };
  const metricsText = async (instance: VialInstance): Promise<string> => (await send(instance.adminPort, agent, 'GET', '/metrics')).text;
  const scalar = async (expr: string): Promise<number | undefined> => (await query(prometheus!, expr))[0]?.value;

  before(async () => {
    [one, two] = await Promise.all([startVial(3), startVial(5)]);
    // Warm-up, before Prometheus's first scrape: the series the known traffic will move, and one
    // scrape of each (the first imports prom-client, a long turn outside any request).
    assert.deepEqual([...(await get(one, '/a')), ...(await get(one, '/slow')), ...(await get(one, '/limited', 2))], [200, 200, 200, 429]);
    assert.deepEqual([...(await get(two, '/a')), ...(await get(two, '/b')), ...(await get(two, '/boom')), ...(await get(two, '/limited', 2))], [200, 200, 500, 200, 429]);
    await Promise.all([metricsText(one), metricsText(two)]);

    prometheus = await startPrometheus([one.target, two.target]);
    await waitUntil('prometheus to scrape both instances once', async () => (await scalar('count(vial_http_requests_total{route="GET /a"})')) === 2, { timeoutMs: 20_000, intervalMs: 200 });

    // The known traffic.
    assert.deepEqual(new Set([...(await get(one, '/a', 30)), ...(await get(one, '/slow', 5))]), new Set([200]));
    assert.deepEqual(await get(one, '/limited', 3), [429, 429, 429]);
    assert.deepEqual(await get(one, '/block'), [200]);
    await waitUntil('instance 1 to report the block of GET /block', async () => (await metricsText(one!)).includes('vial_event_loop_blocks_total{route="GET /block"} 1'));
    assert.deepEqual(new Set([...(await get(two, '/a', 20)), ...(await get(two, '/b', 10))]), new Set([200]));
    assert.deepEqual(await get(two, '/boom', 4), [500, 500, 500, 500]);
    assert.deepEqual(await get(two, '/nope', 5), [404, 404, 404, 404, 404]);
    assert.deepEqual(await get(two, '/limited', 2), [429, 429]);
    const held = send(two.port, agent, 'GET', '/hold');
    await waitUntil('the first /hold to run', async () => (await metricsText(two!)).includes('vial_route_in_flight{route="GET /hold"} 1'));
    assert.deepEqual(await get(two, '/hold'), [503]);
    assert.deepEqual(await get(two, '/release'), [200]);
    assert.equal((await held).status, 200);
    for (const [instance, count, messages] of [[one, 2, 3], [two, 1, 4]] as const) {
      for (let i = 0; i < count; i++) {
        const socket = await connectWebSocket(`ws://127.0.0.1:${instance.port}/echo`);
        assert.ok('ws' in socket, `the /echo handshake was refused: ${JSON.stringify(socket)}`);
        webSockets.push(socket);
        for (let m = 0; m < messages; m++) {
          socket.ws.send(`m${m}`);
          assert.equal(await socket.next(), `echo:m${m}`);
        }
      }
    }
    for (const [instance, count] of [[one, 2], [two, 3]] as const) {
      for (let i = 0; i < count; i++) {
        const socket = connect(instance.port, '127.0.0.1');
        socket.on('error', () => socket.destroy());
        sockets.push(socket);
      }
    }

    // Prometheus holds the final values, and enough samples to bound its extrapolation.
    await waitUntil('prometheus to scrape the known traffic and the open sockets', async () =>
      (await scalar('sum(vial_http_requests_total{route="GET /a"})')) === 52 &&
      (await scalar('sum(vial_open_connections)')) === 8 &&
      (await scalar('sum(vial_websocket_messages_out_total)')) === N.wsMessages &&
      (await scalar('sum(vial_shed_total{reason="route-full"})')) === 1, { timeoutMs: 20_000, intervalMs: 200 });
    const samples = await pollUntil('10 samples of every warm-up series on both instances', async () => {
      const n = await scalar(`min(count_over_time(vial_shed_total{reason="route-full"}[${WINDOW}]))`);
      return n !== undefined && n >= 10 ? n : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    const factor = 1 + 2.2 / (samples - 2);
    const count = (value: number | undefined, expected: number, what: string): void => {
      assert.ok(value !== undefined && value >= expected - 1e-9 && value <= expected * factor + 1e-9, `${what}: increase ${value}, expected ${expected} .. ${expected * factor}`);
    };
    context = {
      i1: one.target,
      i2: two.target,
      factor,
      count,
      rate: (value, expected, what) => count(value === undefined ? undefined : value * WINDOW_SEC, expected, what),
      rateOfNew: (value, expected, what) => {
        const increase = value === undefined ? undefined : value * WINDOW_SEC;
        assert.ok(increase !== undefined && increase >= expected - 1e-9 && increase <= 2 * expected + 1e-9, `${what}: increase ${increase}, expected ${expected} .. ${2 * expected}`);
      },
    };
  }, { timeout: 60_000 });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    for (const socket of webSockets) socket.ws.terminate();
    agent.destroy();
    await Promise.all([prometheus?.stop(), one?.stop(), two?.stop()]);
  });

  it('sees both instances as up targets of job "vial"', async () => {
    const targets = await api<{ activeTargets: { labels: Record<string, string>; health: string; lastError: string }[] }>(prometheus!, 'targets?state=active');
    assert.deepEqual(targets.activeTargets.map((t) => [t.labels.job, t.labels.instance, t.health, t.lastError]).sort(), [
      ['vial', context.i1, 'up', ''],
      ['vial', context.i2, 'up', ''],
    ].sort());
  });

  it('returns the expected per-route values for every panel query of the dashboard', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const targets = dashboardTargets(dashboard);
    assert.deepEqual(targets.map((t) => `${t.panel} / ${t.refId}`).sort(), Object.keys(DASHBOARD_CHECKS).sort(), 'every dashboard query has its check, and every check its query');
    for (const target of targets) {
      const expr = substitute(target.expr);
      const samples = await query(prometheus!, expr);
      try {
        DASHBOARD_CHECKS[`${target.panel} / ${target.refId}`]!(samples, context);
      } catch (error) {
        throw new Error(`panel "${target.panel}" ${target.refId}: ${expr}\n-> ${JSON.stringify(samples)}\n${(error as Error).message}`, { cause: error });
      }
    }
  });

  it('fills the job and instance variables from label_values() with both instances', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
    const variables = dashboard.templating.list.filter((v) => v.type === 'query');
    assert.deepEqual(variables.map((v) => v.name), ['job', 'instance']);
    const values: Record<string, string[]> = {};
    for (const v of variables) {
      // Grafana runs label_values(selector, label) as /api/v1/label/<label>/values?match[]=selector.
      const parsed = /^label_values\((.+), (\w+)\)$/.exec(v.query!.query);
      assert.ok(parsed, `variable ${v.name}: ${v.query!.query} is not label_values(selector, label)`);
      values[v.name] = await api<string[]>(prometheus!, `label/${parsed[2]}/values?${new URLSearchParams({ 'match[]': substitute(parsed[1]!) }).toString()}`);
    }
    assert.deepEqual(values, { job: ['vial'], instance: [context.i1, context.i2].sort() });
  });

  it('loads every rule of the rules file, evaluates them without error, and each expression returns what the fleet did', async () => {
    const names = [...readFileSync(RULES, 'utf8').matchAll(/^\s+- (?:record|alert): (\S+)$/gm)].map((m) => m[1]!);
    assert.deepEqual([...names].sort(), Object.keys(RULE_CHECKS).sort(), 'every rule has its check, and every check its rule');
    const groups = await pollUntil('every rule to be evaluated once', async () => {
      const data = await api<{ groups: RuleGroup[] }>(prometheus!, 'rules');
      const rules = data.groups.flatMap((g) => g.rules);
      return rules.length === names.length && rules.every((r) => r.health === 'ok') ? data.groups : undefined;
    }, { timeoutMs: 10_000, intervalMs: 200 });
    for (const rule of groups.flatMap((g) => g.rules)) {
      assert.equal(rule.lastError ?? '', '', `rule ${rule.name}`);
      const samples = await query(prometheus!, rule.query);
      try {
        RULE_CHECKS[rule.name]!(samples, context);
      } catch (error) {
        throw new Error(`rule ${rule.name}: ${rule.query}\n-> ${JSON.stringify(samples)}\n${(error as Error).message}`, { cause: error });
      }
    }
  });

  it('records the per-route series across both instances', async () => {
    await waitUntil('the recording rules to have run after the known traffic', async () => (await scalar('job:vial_open_connections:sum{job="vial"}')) === 8, { intervalMs: 200 });
    const rates = by(await query(prometheus!, 'route:vial_http_requests:rate5m'), 'job', 'route');
    context.rate(rates.get('vial GET /a'), N.a, 'recorded /a');
    context.rate(rates.get('vial GET /b'), N.b, 'recorded /b');
    const p99 = by(await query(prometheus!, 'route:vial_http_request_duration_seconds:p99_5m'), 'job', 'route');
    assert.ok((p99.get('vial GET /slow') ?? 0) >= 0.025, `recorded p99 of /slow: ${p99.get('vial GET /slow')}`);
    const errors = by(await query(prometheus!, 'route:vial_http_errors:ratio_rate5m'), 'route');
    assert.equal(errors.get('GET /boom'), 1);
  });

  it('fires the blocked-loop alert for the blocking route and holds the shedding alert pending (for: 5m)', async () => {
    const alerts = await pollUntil('the blocked-loop alert to fire and the shedding alert to be pending', async () => {
      const data = await api<{ alerts: { labels: Record<string, string>; state: string }[] }>(prometheus!, 'alerts');
      const states = data.alerts.map((a) => [a.labels.alertname, a.labels.instance, a.labels.route ?? '', a.state].join(' ')).sort();
      return states.length === 2 ? states : undefined;
    }, { timeoutMs: 10_000, intervalMs: 200 });
    assert.deepEqual(alerts, [
      `VialEventLoopBlocked ${context.i1} GET /block firing`,
      `VialSustainedShedding ${context.i2}  pending`,
    ]);
  });

  it('passes promtool check rules', { skip: existsSync(PROMTOOL) ? false : `${PROMTOOL} is missing (Debian ships it with prometheus)` }, () => {
    const run = spawnSync(PROMTOOL, ['check', 'rules', RULES], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /SUCCESS: 11 rules found/);
  });
});
