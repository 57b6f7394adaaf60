/**
 * The floor for scenario post-validated: raw node:http reading the body and JSON.parse-ing it, with
 * no validation at all, answering the same JSON. What a framework adds on top is the cost of its
 * protections and of the schema check.
 */
import { createServer } from 'node:http';
import { listenAndAnnounce } from './port.ts';
import { createdReply } from './user-schema.ts';

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/users') {
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '9' });
    res.end('not found');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: { id: number; name: string };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number; name: string };
    } catch {
      res.writeHead(400, { 'content-type': 'text/plain', 'content-length': '11' });
      res.end('bad request');
      return;
    }
    const reply = JSON.stringify(createdReply(body.id, body.name));
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(reply)) });
    res.end(reply);
  });
});

listenAndAnnounce(server);
