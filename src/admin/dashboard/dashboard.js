// vial admin dashboard: polls /stats every second and draws the last five minutes with uPlot.
// Plain browser JavaScript on purpose (served as is, no build step); everything it loads comes
// from the admin listener. State is on window.vialDashboard for tests and for poking in DevTools.
(function () {
  'use strict';
  const MAX_POINTS = 300;
  // A token travels in the URL fragment (#token=...), which browsers never send to the server.
  const token = new URLSearchParams(location.hash.slice(1)).get('token');
  const headers = token ? { authorization: 'Bearer ' + token } : {};
  const state = { samples: [], polls: 0, errors: 0, lastT: 0, charts: {}, last: null };
  window.vialDashboard = state;

  const MiB = 1024 * 1024;
  const series = {
    latency: { labels: ['p50', 'p95', 'p99'], colors: ['#2da44e', '#bf8700', '#cf222e'], pick: (s) => [s.p50Ms, s.p95Ms, s.p99Ms] },
    throughput: { labels: ['req/s'], colors: ['#0969da'], pick: (s) => [s.rps] },
    // accept queue: connections the kernel holds that vial has not taken in yet (null off Linux: a gap).
    load: { labels: ['in flight', 'queued', 'shed/s', 'accept queue'], colors: ['#0969da', '#8250df', '#cf222e', '#bf8700'], pick: (s) => [s.inFlight, s.queued, s.shedPerSec, s.acceptQueue ?? null] },
    loop: { labels: ['delay p99 ms', 'utilisation %'], colors: ['#cf222e', '#59636e'], pick: (s) => [s.eventLoopDelayP99Ms, Math.round(s.eventLoopUtilization * 1000) / 10] },
    memory: { labels: ['heap used', 'rss'], colors: ['#8250df', '#0969da'], pick: (s) => [Math.round(s.heapUsedBytes / MiB * 10) / 10, Math.round(s.rssBytes / MiB * 10) / 10] },
  };

  function makeChart(name) {
    const def = series[name];
    const el = document.getElementById('chart-' + name);
    const opts = {
      width: Math.max(300, el.clientWidth || 400),
      height: 180,
      legend: { live: false },
      cursor: { show: true },
      scales: { x: { time: true } },
      series: [{}].concat(def.labels.map((label, i) => ({ label, stroke: def.colors[i], width: 1.5, points: { show: false } }))),
      axes: [{}, { size: 50 }],
    };
    return new uPlot(opts, [[]].concat(def.labels.map(() => [])), el);
  }

  function redraw() {
    const xs = state.samples.map((s) => s.t / 1000);
    for (const name of Object.keys(series)) {
      const def = series[name];
      const cols = def.labels.map(() => []);
      for (const s of state.samples) {
        const values = def.pick(s);
        for (let i = 0; i < values.length; i++) cols[i].push(values[i]);
      }
      state.charts[name].setData([xs].concat(cols));
    }
  }

  function cell(row, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function fill(id, rows, columns, hot) {
    const body = document.querySelector('#' + id + ' tbody');
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = document.createElement('tr');
      const td = cell(tr, 'nothing yet', 'empty');
      td.colSpan = columns.length;
      body.appendChild(tr);
      return;
    }
    for (const row of rows) {
      const tr = document.createElement('tr');
      if (hot && hot(row)) tr.className = 'hot';
      for (const [pick, cls] of columns) cell(tr, String(pick(row)), cls);
      body.appendChild(tr);
    }
  }

  function render(stats) {
    document.getElementById('app-name').textContent = stats.name;
    document.getElementById('app-pid').textContent = 'pid ' + stats.pid;
    const status = document.getElementById('status');
    status.textContent = stats.status;
    status.className = 'status ' + stats.status.toLowerCase();
    document.getElementById('reasons').textContent = stats.reasons.join(' · ');
    document.getElementById('updated').textContent = new Date().toLocaleTimeString();
    const conn = stats.connections;
    document.getElementById('connections').textContent = conn
      ? 'connections ' + conn.open.toLocaleString() + (conn.max === null ? '' : ' / ' + conn.max.toLocaleString()) + (conn.refused > 0 ? ' · refused ' + conn.refused.toLocaleString() : '')
      : '';
    fill('routes', stats.routes, [[(r) => r.route, 'where'], [(r) => r.requests, 'num'], [(r) => r.errors5xx, 'num'], [(r) => r.p99Ms, 'num'], [(r) => r.inFlight, 'num'], [(r) => r.queued, 'num'], [(r) => r.shed, 'num']], (r) => r.shed > 0);
    // Requests a rate limit refused, by route, limit and key kind (ip, user, header, function, account).
    fill('limited', stats.rateLimited || [], [[(l) => l.route, 'where'], [(l) => l.limit], [(l) => l.key], [(l) => l.count, 'num']]);
    // A long turn (not confirmed) is many requests' time, never the sampled route's block.
    // A stall outside any request (timers, GC, a burst being accepted) cannot be confirmed: shown, never red.
    const KINDS = { block: 'block', 'long-turn': 'long turn', outside: 'outside requests' };
    fill('blocks', stats.blocks, [[(b) => new Date(b.at).toLocaleTimeString()], [(b) => KINDS[b.kind] || b.kind], [(b) => b.durationMs, 'num'],
      [(b) => (b.kind === 'long-turn' ? 'many requests' : b.kind === 'outside' ? 'outside any request' : b.route || 'outside any route'), 'where'], [(b) => (b.kind === 'long-turn' ? '-' : b.userFrame || b.stack[0] || b.stackError || '?'), 'where']],
      (b) => b.kind === 'block');
    fill('caches', stats.caches, [[(c) => c.name], [(c) => c.size, 'num'], [(c) => c.maxEntries ?? '-', 'num'], [(c) => (c.hitRate * 100).toFixed(1) + '%', 'num'], [(c) => c.evictions, 'num']]);
    fill('sites', stats.allocations ? stats.allocations.sites : [], [[(s) => s.functionName || '<anonymous>'], [(s) => s.location, 'where'], [(s) => (s.selfBytes / 1024).toFixed(0), 'num']]);
  }

  async function poll() {
    try {
      const res = await fetch('/stats?since=' + state.lastT, { headers, cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      const stats = await res.json();
      state.polls++;
      state.last = stats;
      if (stats.samples.length > 0) {
        state.samples = state.samples.concat(stats.samples).slice(-MAX_POINTS);
        state.lastT = state.samples[state.samples.length - 1].t;
      }
      redraw();
      render(stats);
    } catch (error) {
      state.errors++;
      const status = document.getElementById('status');
      status.textContent = 'UNREACHABLE';
      status.className = 'status unreachable';
      document.getElementById('reasons').textContent = String(error);
    } finally {
      setTimeout(poll, 1000);
    }
  }

  for (const name of Object.keys(series)) state.charts[name] = makeChart(name);
  void poll();
})();
