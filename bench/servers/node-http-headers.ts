/**
 * Raw node:http sending the headers vial sends on a JSON success by default (nosniff, CSP
 * frame-ancestors, HSTS: production over https; no x-request-id, which goes out with errors): what
 * those headers cost on their own, with no framework at all.
 */
import { createServer } from 'node:http';
import { listenAndAnnounce } from './port.ts';

const body = JSON.stringify({ hello: 'world' });
const length = String(Buffer.byteLength(body));

const server = createServer((req, res) => {
  // /hello-async too: raw node:http has no async path, so its figure is the limit for both scenarios.
  res.writeHead(req.url === '/hello' || req.url === '/hello-async' ? 200 : 404, [
    'content-type', 'application/json; charset=utf-8',
    'x-content-type-options', 'nosniff',
    'content-security-policy', "frame-ancestors 'none'",
    'strict-transport-security', 'max-age=31536000; includeSubDomains',
    'content-length', length,
  ]);
  res.end(body);
});

listenAndAnnounce(server);
