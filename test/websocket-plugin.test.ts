/**
 * The websocket plugin through a real server and the `ws` client: the handshake runs the app's
 * pipeline (before hooks, session, Origin, bulkheads), every limit on an open socket closes it with
 * its code, a failing handler closes only its socket (1011), and shutdown closes with 1001.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, describe, it } from 'node:test';
import { Blueprint, Broadcast, websocket, websocketStats, wsChannel } from '../src/index.ts';
import type { RunningServer, Vial, VialOptions, WebSocketEvent, WebSocketPluginInput } from '../src/index.ts';
import { createMetrics } from '../src/observe/metrics.ts';
import { makeApp } from './helpers/both.ts';
import { waitUntil } from './helpers/wait.ts';
import { connect, open, refused } from './helpers/ws.ts';

const servers: RunningServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function serve(setup: (app: Vial) => void, input: WebSocketPluginInput = {}, options: VialOptions = {}): Promise<{ http: string; ws: string; running: RunningServer; app: Vial }> {
  const app = makeApp(options);
  app.plugin(websocket, input);
  setup(app);
  const running = await app.listen({ port: 0, host: '127.0.0.1' });
  servers.push(running);
  return { http: running.url, ws: running.url.replace(/^http/, 'ws'), running, app };
}

function echo(app: Vial, path = '/echo'): void {
  app.get(path, { websocket: true }, (ctx) => {
    const socket = ctx.websocket;
    socket.onMessage((message) => {
      socket.send(typeof message === 'string' ? `echo:${message}` : message);
    });
  });
}

function events(): { seen: WebSocketEvent[]; stop(): void } {
  const seen: WebSocketEvent[] = [];
  const listener = (event: WebSocketEvent): void => {
    seen.push(event);
  };
  wsChannel.subscribe(listener);
  return { seen, stop: () => wsChannel.unsubscribe(listener) };
}

describe('websocket routes', () => {
  it('runs the before hooks first: no credentials get their 401, with them the handler has g and converted params', async () => {
    const { ws } = await serve((app) => {
      app.beforeRequest((ctx) => {
        if (ctx.request.raw.headers.authorization !== 'Bearer good') return new Response('who are you?', { status: 401 });
        ctx.g['user'] = 'alice';
        return undefined;
      });
      app.get('/rooms/<int:id>', { websocket: true }, (ctx) => {
        ctx.websocket.send(`${String(ctx.g['user'])} in room ${typeof ctx.params['id']} ${String(ctx.params['id'])}`);
      });
    });
    const no = await refused(`${ws}/rooms/7`);
    assert.equal(no.status, 401);
    const socket = await open(`${ws}/rooms/7`, { headers: { authorization: 'Bearer good' } });
    assert.equal(await socket.next(), 'alice in room number 7');
    assert.equal(socket.ws.extensions, '', 'permessage-deflate is off by default');
    socket.ws.close();
    await socket.closed;
  });

  it("serves blueprint routes under the prefix, after the blueprint's own before hooks", async () => {
    const { ws } = await serve((app) => {
      const api = new Blueprint('live', { prefix: '/live' });
      api.beforeRequest((ctx) => {
        ctx.g['scope'] = 'live';
      });
      api.get('/feed/<slug>', { websocket: true }, (ctx) => {
        ctx.websocket.send(`${String(ctx.g['scope'])}:${String(ctx.params['slug'])}`);
      });
      app.register(api);
    });
    const socket = await open(`${ws}/live/feed/news`);
    assert.equal(await socket.next(), 'live:news');
    socket.ws.close();
  });

  it('takes app.ws(path, handler) and blueprint.ws(path, limits, handler) as the same GET routes', async () => {
    const { ws, http } = await serve((app) => {
      app.ws('/plain/<int:n>', (ctx) => {
        ctx.websocket.send(`n=${String(ctx.params['n'] + 1)}`);
      });
      const live = new Blueprint('live', { prefix: '/live' });
      live.ws('/small', { maxMessageBytes: 16 }, (ctx) => {
        ctx.websocket.onMessage((m) => ctx.websocket.send(String(m)));
      });
      app.register(live);
    });
    const plain = await open(`${ws}/plain/41`);
    assert.equal(await plain.next(), 'n=42');
    plain.ws.close();
    const small = await open(`${ws}/live/small`);
    small.ws.send('short');
    assert.equal(await small.next(), 'short');
    small.ws.send('x'.repeat(17));
    assert.equal((await small.closed).code, 1009, "the blueprint route's own limit holds");
    assert.equal((await fetch(`${http}/plain/1`)).status, 426);
  });

  it('answers a plain GET to a WebSocket route with 426, and an upgrade to a non-WebSocket path with 404 (not the page)', async () => {
    const { ws, http } = await serve((app) => {
      echo(app);
      app.get('/page', () => 'a page');
    });
    const plain = await fetch(`${http}/echo`);
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.get('upgrade'), 'websocket');
    assert.equal(((await plain.json()) as { error: { code: string } }).error.code, 'VIAL_ERR_WS_UPGRADE_REQUIRED');
    const page = await refused(`${ws}/page`);
    assert.equal(page.status, 404);
    assert.equal(page.body.error?.code, 'VIAL_ERR_WS_NO_ROUTE');
    // The HTTP route itself is unchanged.
    assert.equal(await (await fetch(`${http}/page`)).text(), 'a page');
  });

  it('refuses a cross-site Origin with 403 and a JSON body before the handshake; the own and allowed origins pass', async () => {
    const { ws } = await serve(echo, { allowedOrigins: ['https://admin.example'] });
    const evil = await refused(`${ws}/echo`, { headers: { origin: 'https://evil.example' } });
    assert.equal(evil.status, 403);
    assert.equal(evil.body.error?.code, 'VIAL_ERR_WS_ORIGIN');
    assert.match(evil.body.error?.message ?? '', /websocket\.allowedOrigins/);
    const host = new URL(ws).host;
    for (const origin of [`http://${host}`, 'https://admin.example']) {
      const socket = await open(`${ws}/echo`, { headers: { origin } });
      socket.ws.send('hi');
      assert.equal(await socket.next(), 'echo:hi');
      socket.ws.close();
    }
  });

  it('gives the handler the session of the handshake, and saveSession() persists a change HTTP then sees', async () => {
    const { ws, http } = await serve(
      (app) => {
        app.post('/login', (ctx) => {
          ctx.session.login('bob');
          return 'ok';
        });
        app.get('/count', (ctx) => ({ n: ctx.session.get<number>('n') ?? 0 }));
        app.get('/live', { websocket: true }, (ctx) => {
          const socket = ctx.websocket;
          socket.send(`user:${socket.session.userId ?? 'none'}`);
          socket.onMessage(async () => {
            socket.session.set('n', (socket.session.get<number>('n') ?? 0) + 1);
            await socket.saveSession();
            socket.send('saved');
          });
        });
      },
      {},
      { security: { session: { store: 'memory', secure: false } } },
    );
    const login = await fetch(`${http}/login`, { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    assert.match(cookie, /=/);
    const origin = `http://${new URL(ws).host}`;
    const socket = await open(`${ws}/live`, { headers: { cookie, origin } });
    assert.equal(await socket.next(), 'user:bob');
    socket.ws.send('+1');
    assert.equal(await socket.next(), 'saved');
    const count = (await (await fetch(`${http}/count`, { headers: { cookie } })).json()) as { n: number };
    assert.equal(count.n, 1);
    socket.ws.close();
    // Without an Origin (no browser), the session cookie needs the session's CSRF token: CSRF's own rule.
    const tokenless = await refused(`${ws}/live`, { headers: { cookie } });
    assert.equal(tokenless.status, 403);
  });

  it('closes a socket whose handler or listener throws with 1011, and the process and other sockets go on', async () => {
    const seen = events();
    const { ws } = await serve((app) => {
      echo(app);
      app.get('/throws', { websocket: true }, () => {
        throw new Error('handler broke');
      });
      app.get('/listener', { websocket: true }, (ctx) => {
        ctx.websocket.onMessage(async () => {
          await Promise.resolve();
          throw new Error('listener broke');
        });
      });
    });
    const bystander = await open(`${ws}/echo`);
    const thrown = await open(`${ws}/throws`);
    assert.equal((await thrown.closed).code, 1011);
    const listener = await open(`${ws}/listener`);
    listener.ws.send('x');
    assert.equal((await listener.closed).code, 1011);
    bystander.ws.send('still here');
    assert.equal(await bystander.next(), 'echo:still here');
    bystander.ws.close();
    seen.stop();
    assert.equal(seen.seen.filter((e) => e.event === 'error').length, 2);
  });
});

describe('websocket limits', () => {
  it('closes with 1009 on a message over maxMessageBytes (route option over the app default)', async () => {
    const { ws } = await serve((app) => {
      app.get('/small', { websocket: { maxMessageBytes: 16 } }, (ctx) => {
        ctx.websocket.onMessage((m) => ctx.websocket.send(String(m)));
      });
    });
    const socket = await open(`${ws}/small`);
    socket.ws.send('short');
    assert.equal(await socket.next(), 'short');
    socket.ws.send('x'.repeat(17));
    assert.equal((await socket.closed).code, 1009);
  });

  it('closes with 1008 when a socket sends more messages per second than its bucket holds', async () => {
    const { ws } = await serve((app) => echo(app), { maxMessagesPerSecond: 1, messageBurst: 3 });
    const socket = await open(`${ws}/echo`);
    for (let i = 0; i < 10; i++) socket.ws.send(String(i));
    const closed = await socket.closed;
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, 'message rate exceeded');
    assert.ok(socket.messages.length <= 3, `at most the burst was answered, got ${socket.messages.length}`);
  });

  it('refuses the upgrade past maxConnections of the route and of the process with 503, and frees the slot on close', async () => {
    const { ws } = await serve(
      (app) => {
        app.get('/one', { websocket: { maxConnections: 1 } }, () => undefined);
        app.get('/other', { websocket: true }, () => undefined);
      },
      { maxConnectionsPerProcess: 2 },
    );
    const first = await open(`${ws}/one`);
    const full = await refused(`${ws}/one`);
    assert.equal(full.status, 503);
    assert.equal(full.body.error?.code, 'VIAL_ERR_WS_FULL');
    assert.equal(full.headers['retry-after'], '1');
    const second = await open(`${ws}/other`);
    const processFull = await refused(`${ws}/other`);
    assert.equal(processFull.status, 503);
    assert.match(processFull.body.error?.message ?? '', /maxConnectionsPerProcess/);
    first.ws.close();
    await first.closed;
    let again: Awaited<ReturnType<typeof connect>> | undefined;
    await waitUntil('the freed slot to admit a new socket', async () => {
      again = await connect(`${ws}/one`);
      return !('status' in again);
    });
    if (again !== undefined && !('status' in again)) again.ws.close();
    second.ws.close();
  });

  it('answers 408 to a handshake whose before hooks outlast handshakeTimeoutMs', async () => {
    const { ws } = await serve(
      (app) => {
        app.beforeRequest(() => new Promise(() => undefined));
        echo(app);
      },
      { handshakeTimeoutMs: 50 },
    );
    const slow = await refused(`${ws}/echo`);
    assert.equal(slow.status, 408);
    assert.equal(slow.body.error?.code, 'VIAL_ERR_WS_HANDSHAKE_TIMEOUT');
  });

  it('closes an idle socket with 1000 "idle timeout"; traffic keeps it open', async () => {
    const { ws } = await serve((app) => echo(app), { idleTimeoutMs: 150 });
    const socket = await open(`${ws}/echo`);
    const closed = await socket.closed;
    assert.deepEqual(closed, { code: 1000, reason: 'idle timeout' });
  });

  it('keeps a socket with traffic open past its idle timeout, and closes it once the traffic stops', async () => {
    const { ws } = await serve((app) => echo(app), { idleTimeoutMs: 300 });
    const socket = await open(`${ws}/echo`);
    let done = false;
    void socket.closed.then(() => (done = true));
    // Messages every 50 ms for more than twice the timeout: each one counts as activity.
    for (let i = 0; i < 14; i++) {
      socket.ws.send(`tick ${i}`);
      assert.equal(await socket.next(), `echo:tick ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(done, false, 'still open after 700 ms of traffic');
    assert.deepEqual(await socket.closed, { code: 1000, reason: 'idle timeout' });
  });

  it('terminates a peer that stops answering pings (heartbeat); one that answers stays', async () => {
    const { ws } = await serve((app) => echo(app), { pingIntervalMs: 40 });
    const dead = await open(`${ws}/echo`, { autoPong: false });
    const alive = await open(`${ws}/echo`);
    assert.equal((await dead.closed).code, 1006, 'cut off without a closing handshake');
    alive.ws.send('ping?');
    assert.equal(await alive.next(), 'echo:ping?');
    alive.ws.close();
  });

  it('stops reading and drops a consumer that does not read its messages (1008 on the server, the socket freed)', async () => {
    const seen = events();
    const { ws, app } = await serve(
      (app) => {
        app.get('/firehose', { websocket: { maxBufferedBytes: 64 * 1024, slowConsumerTimeoutMs: 50 } }, (ctx) => {
          const socket = ctx.websocket;
          const chunk = 'x'.repeat(16 * 1024);
          const pump = (): void => {
            while (socket.send(chunk));
            if (!socket.closing) setTimeout(pump, 5);
          };
          pump();
        });
      },
    );
    const slow = await open(`${ws}/firehose`);
    // The client's own socket stops reading: the server's send buffer fills.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await waitUntil('the slow consumer to be dropped', () => seen.seen.some((e) => e.event === 'dropped'));
    await waitUntil('its socket to close', () => seen.seen.some((e) => e.event === 'close' && e.route === 'GET /firehose'));
    seen.stop();
    assert.equal(websocketStats(app)?.routes.find((r) => r.route === 'GET /firehose')?.droppedSlow, 1);
    slow.ws.terminate();
  });

  it('negotiates permessage-deflate only when turned on', async () => {
    const { ws } = await serve((app) => echo(app), { perMessageDeflate: true });
    const socket = await open(`${ws}/echo`);
    assert.match(socket.ws.extensions, /permessage-deflate/);
    socket.ws.close();
  });
});

describe('websocket shutdown', () => {
  it('closes open sockets with 1001 after the grace period, which handlers see as shuttingDown', async () => {
    const { ws, running } = await serve(
      (app) => {
        app.get('/live', { websocket: true }, (ctx) => {
          const socket = ctx.websocket;
          socket.onMessage(() => socket.send(socket.shuttingDown ? 'shutting down' : 'running'));
        });
      },
      { shutdownGraceMs: 200 },
    );
    const socket = await open(`${ws}/live`);
    socket.ws.send('?');
    assert.equal(await socket.next(), 'running');
    const closing = running.close();
    socket.ws.send('?');
    assert.equal(await socket.next(), 'shutting down');
    const closed = await socket.closed;
    assert.deepEqual(closed, { code: 1001, reason: 'server shutting down' });
    await closing;
  });

  it('answers a handshake without a valid Sec-WebSocket-Key with 400, never upgrading', async () => {
    const { http } = await serve(echo);
    const { port } = new URL(http);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/echo', headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'short' } });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('upgrade', () => reject(new Error('upgraded with a bad key')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 400);
  });
});

describe('websocket broadcast in one process', () => {
  it("reaches the room's other sockets (the sender too with includeSelf), and an HTTP route publishes through the same hub", async () => {
    const hub = new Broadcast();
    const { ws, http } = await serve(
      (app) => {
        app.get('/rooms/<name>', { websocket: true }, (ctx) => {
          const socket = ctx.websocket;
          const topic = `room:${String(ctx.params['name'])}`;
          socket.join(topic);
          socket.onMessage((message) => socket.publish(topic, String(message), { includeSelf: message === 'echo me' }));
          socket.send('joined');
        });
        app.post('/rooms/<name>', (ctx) => {
          hub.publish(`room:${String(ctx.params['name'])}`, 'from http');
          return null;
        });
      },
      { broadcast: hub },
    );
    const [a, b, other] = await Promise.all([open(`${ws}/rooms/x`), open(`${ws}/rooms/x`), open(`${ws}/rooms/y`)]);
    for (const socket of [a, b, other]) assert.equal(await socket.next(), 'joined');
    a.ws.send('hi');
    assert.equal(await b.next(), 'hi');
    a.ws.send('echo me');
    assert.equal(await a.next(), 'echo me');
    assert.equal(await b.next(), 'echo me');
    assert.equal((await fetch(`${http}/rooms/x`, { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } })).status, 204);
    assert.equal(await a.next(), 'from http');
    assert.equal(await b.next(), 'from http');
    assert.equal(hub.count('room:x'), 2);
    assert.deepEqual(other.messages, ['joined']);
    a.ws.close();
    await a.closed;
    await waitUntil('the closed socket to leave its room', () => hub.count('room:x') === 1);
    b.ws.close();
    other.ws.close();
  });
});

describe('websocket metrics', () => {
  it('shows open sockets, messages in and out, refusals, rate limits, errors and dropped slow consumers per route in /metrics', async () => {
    const { ws, app } = await serve(
      (a) => {
        echo(a);
        a.get('/throws', { websocket: true }, () => {
          throw new Error('handler broke');
        });
      },
      { maxMessagesPerSecond: 1, messageBurst: 2 },
    );
    const metrics = createMetrics(app, { startSampling: false });
    try {
      const socket = await open(`${ws}/echo`);
      socket.ws.send('a');
      assert.equal(await socket.next(), 'echo:a');
      const before = await (await metrics.registry()).metrics();
      assert.match(before, /vial_websocket_open\{route="GET \/echo"\} 1/);
      assert.match(before, /vial_websocket_messages_in_total\{route="GET \/echo"\} 1/);
      assert.match(before, /vial_websocket_messages_out_total\{route="GET \/echo"\} 1/);
      for (let i = 0; i < 5; i++) socket.ws.send('flood');
      assert.equal((await socket.closed).code, 1008);
      await (await open(`${ws}/throws`)).closed;
      assert.equal((await refused(`${ws}/echo`, { headers: { origin: 'https://evil.example' } })).status, 403);
      await waitUntil('the closed sockets to be counted', async () => /vial_websocket_open\{route="GET \/echo"\} 0/.test(await (await metrics.registry()).metrics()));
      const text = await (await metrics.registry()).metrics();
      assert.match(text, /vial_websocket_rate_limited_total\{route="GET \/echo"\} 1/);
      assert.match(text, /vial_websocket_errors_total\{route="GET \/throws"\} 1/);
      assert.match(text, /vial_websocket_refused_total\{route="GET \/echo"\} 1/);
      assert.match(text, /vial_websocket_opened_total\{route="GET \/echo"\} 1/);
      assert.match(text, /vial_websocket_slow_consumers_dropped_total\{route="GET \/echo"\} 0/);
      assert.match(text, /vial_websocket_max_open\{route="GET \/echo"\} 1000/);
    } finally {
      metrics.close();
    }
  });
});
