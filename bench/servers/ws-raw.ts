/**
 * Raw `ws`: a WebSocketServer on a plain node:http server, echoing every message back as it came
 * (text stays text, bytes stay bytes). The floor the ws-echo scenario measures vial against: the
 * same library vial's WebSocket plugin is built on, with nothing around it.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { listenAndAnnounce } from './port.ts';

const server = createServer((_req, res) => {
  // The harness's readiness probe is a plain GET: answer it like the other systems do.
  res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
});
// perMessageDeflate off: ws' own default for a server, and vial's (docs/websocket.md).
const wss = new WebSocketServer({ server, path: '/echo', perMessageDeflate: false });
wss.on('connection', (socket) => {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
});

listenAndAnnounce(server);
