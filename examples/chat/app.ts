/**
 * A chat: pick a nickname (kept in the session), join a room, and every page in the room sees the
 * messages as they are sent, over WebSockets.
 *
 *   node src/cli/main.ts run examples/chat/app.ts      # then open http://127.0.0.1:5000 in two windows
 *   VIAL_CHAT_REDIS=redis://127.0.0.1:6379 node src/cli/main.ts run --workers 2 examples/chat/app.ts
 *
 * With VIAL_CHAT_REDIS the rooms span every worker and machine through Redis pub/sub; without it,
 * one process. What vial does here by default: the socket's handshake runs the before hook below
 * (no nickname, no socket: 401), a page on another site cannot open it (Origin: 403), and each
 * socket is held to its limits (4 KiB messages here, 100 messages a second, a heartbeat, an idle
 * timeout, a bounded send buffer).
 */
import { Broadcast, html, raw, redirect, redisTransport, Vial, websocket } from '../../src/index.ts';
import type { Context, SafeHtml, VialOptions } from '../../src/index.ts';

const MAX_NAME = 24;
const MAX_TEXT = 500;

function page(title: string, body: SafeHtml, room = '', script = ''): SafeHtml {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  #log { list-style: none; padding: 0.5rem; margin: 0 0 0.75rem; border: 1px solid #ccc; border-radius: 6px; height: 18rem; overflow-y: auto; background: #fafafa; }
  #log li { padding: 0.15rem 0; } #log .from { font-weight: 600; margin-right: 0.4rem; } #log .system { color: #777; font-style: italic; }
  form { display: flex; gap: 0.5rem; } input[name] { flex: 1; padding: 0.4rem; } #status { color: #777; font-size: 0.9em; }
</style></head><body data-room="${room}">${body}${script === '' ? '' : html`<script>${raw(script)}</script>`}</body></html>`;
}

// The room page's script: one socket, a list of messages, a form. A constant of this file (no
// user data in it), so raw() is safe for it; messages go into the page as textContent.
const ROOM_SCRIPT = `
const room = document.body.dataset.room;
const log = document.getElementById('log');
const status = document.getElementById('status');
function add(from, text, system) {
  const li = document.createElement('li');
  if (system) li.className = 'system';
  else { const b = document.createElement('span'); b.className = 'from'; b.textContent = from; li.append(b); }
  li.append(document.createTextNode(text));
  log.append(li);
  log.scrollTop = log.scrollHeight;
}
const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/rooms/' + encodeURIComponent(room) + '/socket');
socket.onopen = () => { status.textContent = 'connected'; document.body.dataset.connected = 'yes'; };
socket.onclose = (event) => { status.textContent = 'disconnected (' + event.code + ')'; document.body.dataset.connected = 'no'; };
socket.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.type === 'joined' || message.type === 'left') add('', message.name + (message.type === 'joined' ? ' joined' : ' left'), true);
  else add(message.name, message.text, false);
};
document.getElementById('send').onsubmit = (event) => {
  event.preventDefault();
  const input = event.target.elements.text;
  if (input.value.trim() !== '' && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ text: input.value }));
  input.value = '';
};`;

function nickname(ctx: Context): string | undefined {
  return ctx.session.get<string>('name');
}

export function createChatApp(options: VialOptions = {}, redisUrl = process.env['VIAL_CHAT_REDIS']): Vial {
  // Nicknames only: a restart forgetting them is fine, so the memory store (no files).
  const app = new Vial({ ...options, security: { session: { store: 'memory' }, ...options.security } });
  const hub = new Broadcast(redisUrl === undefined || redisUrl === '' ? {} : { transport: redisTransport({ url: redisUrl, log: app.log }) });
  app.plugin(websocket, { broadcast: hub });

  // Authentication for the room pages and their sockets alike: the handshake runs it too.
  app.beforeRequest((ctx) => {
    if (!ctx.request.path.startsWith('/rooms/') || nickname(ctx) !== undefined) return undefined;
    return ctx.request.path.endsWith('/socket') ? new Response('Pick a nickname first.', { status: 401 }) : redirect('/');
  });

  app.get('/', (ctx) =>
    page('Chat', html`<h1>Chat</h1>
      <form method="post" action="/join">
        <input type="hidden" name="_csrf" value="${ctx.csrfToken()}">
        <input name="name" placeholder="Your nickname" maxlength="${MAX_NAME}" required autofocus>
        <input name="room" value="lobby" aria-label="Room" pattern="[a-z0-9-]+" required>
        <button>Join</button>
      </form>`),
  );

  app.post('/join', async (ctx) => {
    const form = await ctx.request.form();
    const name = (form.get('name') ?? '').trim().slice(0, MAX_NAME);
    const room = (form.get('room') ?? 'lobby').trim();
    if (name === '' || !/^[a-z0-9-]{1,40}$/.test(room)) return redirect('/');
    ctx.session.set('name', name);
    return redirect(`/rooms/${room}`);
  });

  app.get('/rooms/<room>', (ctx) => {
    const room = String(ctx.params['room']);
    const body = html`<h1>#${room}</h1><p>You are <strong>${nickname(ctx) ?? ''}</strong>. <span id="status">connecting…</span></p>
      <ul id="log"></ul>
      <form id="send"><input name="text" maxlength="${MAX_TEXT}" placeholder="Message" autocomplete="off" aria-label="Message"><button>Send</button></form>`;
    return page(`#${room}`, body, room, ROOM_SCRIPT);
  });

  app.get('/rooms/<room>/socket', { websocket: { maxMessageBytes: 4096 } }, (ctx) => {
    const socket = ctx.websocket;
    const name = nickname(ctx) as string; // the before hook let only named users through
    const topic = `room:${String(ctx.params['room'])}`;
    socket.join(topic);
    socket.publish(topic, JSON.stringify({ type: 'joined', name }), { includeSelf: true });
    socket.onMessage((message) => {
      let text: unknown;
      try {
        text = (JSON.parse(String(message)) as { text?: unknown }).text;
      } catch {
        text = undefined;
      }
      if (typeof text !== 'string' || text.trim() === '') return;
      socket.publish(topic, JSON.stringify({ type: 'message', name, text: text.slice(0, MAX_TEXT), at: Date.now() }), { includeSelf: true });
    });
    socket.onClose(() => hub.publish(topic, JSON.stringify({ type: 'left', name })));
  });

  return app;
}

export const app = createChatApp();
export default app;
