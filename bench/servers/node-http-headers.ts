/** Raw node:http sending the same security headers and request id vial sends: their own cost. */
import { createServer } from 'node:http';
import { listenAndAnnounce } from './port.ts';

const body = JSON.stringify({ hello: 'world' });
const length = String(Buffer.byteLength(body));
let n = 0;

const server = createServer((req, res) => {
  res.writeHead(req.url === '/hello' ? 200 : 404, {
    'content-type': 'application/json; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'strict-origin-when-cross-origin',
    'x-frame-options': 'DENY',
    'content-security-policy': "frame-ancestors 'none'",
    'cross-origin-opener-policy': 'same-origin',
    'x-request-id': `bench-${(n++).toString(36)}`,
    'content-length': length,
  });
  res.end(body);
});

listenAndAnnounce(server);
