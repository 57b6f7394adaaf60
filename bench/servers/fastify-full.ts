/**
 * Fastify as a team configures it to get the protections vial has by default, each plugin
 * registered the way its README shows:
 *   @fastify/helmet            security headers (its defaults, CSP included)
 *   @fastify/under-pressure    503 under event-loop pressure: maxEventLoopDelay 1000 ms, the
 *                              README's value. Its maxEventLoopUtilization 0.98 is left off here:
 *                              a closed-loop speed run saturates the core on purpose (ELU ~1), and
 *                              with it on, this row measured 503s (cheap) as speed. The overload
 *                              scenario runs it with ELU 0.98 (servers/scenario-fastify.ts). Its
 *                              heap and RSS limits are left off too: 100 MB, the README's example,
 *                              is app-specific and would shed here.
 *   @fastify/request-context   request-scoped storage on AsyncLocalStorage (vial's `g`)
 *   @fastify/secure-session    an encrypted cookie session (a 32-byte key, as genkey.js makes)
 *   @fastify/csrf-protection   on every unsafe method (its README protects a route with
 *                              `onRequest: fastify.csrfProtection`; here one app-wide hook does
 *                              that for POST/PUT/PATCH/DELETE), secret kept in the session
 *   bodyLimit 1 MiB and handlerTimeout 30 s (vial's default body limit and request deadline)
 * BENCH_HOOK=1 adds the same onRequest auth hook as servers/fastify.ts.
 */
import { randomBytes } from 'node:crypto';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyHelmet from '@fastify/helmet';
import { fastifyRequestContext, requestContext } from '@fastify/request-context';
import fastifySecureSession from '@fastify/secure-session';
import underPressure from '@fastify/under-pressure';
import Fastify from 'fastify';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import { announce, benchPort, HOST } from './port.ts';

declare module '@fastify/request-context' {
  interface RequestContextData {
    user: string;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const app = Fastify({ bodyLimit: 1_048_576, handlerTimeout: 30_000 });
await app.register(fastifyHelmet);
await app.register(underPressure, { maxEventLoopDelay: 1000 });
await app.register(fastifyRequestContext);
await app.register(fastifySecureSession, { key: randomBytes(32), cookie: { path: '/', httpOnly: true, secure: true, sameSite: 'lax' } });
await app.register(fastifyCsrf, { sessionPlugin: '@fastify/secure-session' });
app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
  if (SAFE_METHODS.has(request.method)) done();
  else app.csrfProtection(request, reply, done);
});
if (process.env['BENCH_HOOK'] === '1') {
  app.addHook('onRequest', (request, _reply, done) => {
    const authorization = request.headers.authorization;
    requestContext.set('user', authorization === undefined ? 'anonymous' : authorization.slice(7));
    done();
  });
}
app.get('/hello', () => ({ hello: 'world' }));
// eslint-disable-next-line @typescript-eslint/require-await -- async on purpose: the scenario measures that path
app.get('/hello-async', async () => ({ hello: 'world' }));
app.post('/echo', (request) => ({ got: request.body }));

await app.listen({ port: benchPort(), host: HOST });
const address = app.server.address();
announce(typeof address === 'object' && address !== null ? address.port : 0, () => app.close());
