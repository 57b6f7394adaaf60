/** The public surface is explicit: this snapshot changes only on purpose (as h3 does). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as vial from '../src/index.ts';

it('exports exactly the public API', () => {
  assert.deepEqual(Object.keys(vial).sort(), [
    'BadRequestError', 'Blueprint', 'BoundedCache', 'Bulkhead', 'BulkheadFullError', 'CSRF_FORM_FIELD', 'CSRF_HEADER',
    'ClientGoneError', 'ConfigError', 'Context', 'ContextError', 'DeadlineError', 'FormBody', 'HttpError',
    'MemoryRateLimitStore', 'MemorySessionStore', 'OffloadQueueFullError', 'RedisRateLimitStore', 'RedisSessionStore', 'SafeHtml', 'SqliteSessionStore', 'Vial',
    'VialError', 'VialRequest', 'VialResponse', 'abort', 'cacheRegistry', 'checkSecret', 'createAllocationSampler',
    'checkPreconditions', 'compression', 'conditional', 'cors', 'createLeakAlarm', 'definePlugin', 'typedChannel', 'startAdmin', 'diffAllocationSnapshots', 'escapeHtml', 'g', 'html', 'json', 'rateLimit', 'raw', 'redirect',
    'request', 'ResponseValidationError', 'schemas', 'sendFile', 'session', 'staticFiles', 'sse', 'takeHeapSnapshot',
    'Broadcast', 'WebSocketConnection', 'redisTransport', 'websocket', 'websocketStats', 'wsChannel',
    'REDACT_PATHS', 'traceHeaders', 'traceLogFields',
  ].sort());
});
