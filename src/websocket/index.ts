/**
 * vial's WebSockets: the plugin (plugin.ts), the connection handlers see (connection.ts), and the
 * broadcast hub with its Redis transport (broadcast/). docs/websocket.md.
 */
export { websocket } from './plugin.ts';
export type { WebSocketPluginInput } from './plugin.ts';
export { websocketStats } from './stats.ts';
export type { RouteCounters as WebSocketRouteStats, WebSocketStats } from './stats.ts';
export { WebSocketConnection } from './connection.ts';
export type { WebSocketMessage } from './connection.ts';
export { Broadcast } from './broadcast/hub.ts';
export type { Subscriber } from './broadcast/hub.ts';
export type { BroadcastMessage, BroadcastOptions, BroadcastStats, BroadcastTransport } from './broadcast/hub.ts';
export { redisTransport } from './broadcast/redis.ts';
export type { RedisTransport, RedisTransportOptions, RedisTransportStats } from './broadcast/redis.ts';
export type { WebSocketInput, WebSocketRouteLimits } from './options.ts';
export { wsChannel } from './events.ts';
export type { WebSocketEvent } from './events.ts';
