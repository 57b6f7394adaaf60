/**
 * WebSocket numbers per route, kept by the plugin as plain counters (no event per message) and read
 * when /metrics is scraped. A leaf module, so observe/metrics.ts reads them without importing ws.
 */

/** Counters of one WebSocket route, since the app started. */
export class RouteCounters {
  readonly route: string;
  readonly limit: number;
  /** Sockets open now. */
  open = 0;
  opened = 0;
  messagesIn = 0;
  messagesOut = 0;
  /** Consumers dropped because their send buffer or broadcast queue stayed full. */
  droppedSlow = 0;
  /** Sockets closed for sending more messages per second than allowed. */
  rateLimited = 0;
  /** Sockets closed with 1011 because a handler or listener threw. */
  errors = 0;
  /** Handshakes refused by vial's websocket checks (Origin 403, bulkhead 503, timeout 408). */
  refused = 0;

  constructor(route: string, limit: number) {
    this.route = route;
    this.limit = limit;
  }
}

export interface WebSocketStats {
  /** Sockets open now in this process (all routes). */
  readonly open: number;
  readonly routes: readonly Readonly<RouteCounters>[];
}

const byApp = new WeakMap<object, () => WebSocketStats>();

/** Called by the plugin once per app. */
export function registerWebSocketStats(app: object, read: () => WebSocketStats): void {
  byApp.set(app, read);
}

/** The app's WebSocket numbers, or undefined when it has no websocket plugin. */
export function websocketStats(app: object): WebSocketStats | undefined {
  return byApp.get(app)?.();
}
