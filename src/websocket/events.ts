/**
 * `vial:websocket`: what happens on sockets, for /metrics and the admin JSON. Published only while
 * someone listens (check `hasSubscribers` first), so an app without metrics pays nothing per message.
 */
import { typedChannel } from '../internal/channels.ts';

export type WebSocketEvent =
  | { readonly event: 'open' | 'close' | 'in' | 'out' | 'dropped' | 'rate-limited' | 'error'; readonly route: string }
  | { readonly event: 'refused'; readonly route: string; readonly status: number };

export const wsChannel = typedChannel<WebSocketEvent>('vial:websocket');
