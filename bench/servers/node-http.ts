/**
 * The floor: raw node:http writing the same JSON with content-type and content-length. Nothing a
 * framework could do is cheaper than this, so vial is expected to reach ~0.95x of it.
 */
import { createServer } from 'node:http';
import { listenAndAnnounce } from './port.ts';

const body = JSON.stringify({ hello: 'world' });
const length = String(Buffer.byteLength(body));

const server = createServer((req, res) => {
  if (req.url === '/hello') {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
    res.end(body);
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' });
  res.end('not found');
});

listenAndAnnounce(server);
