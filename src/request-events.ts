/**
 * `vial:request`: published once per finished request (refused, unmatched and errored ones too);
 * the request log and the metrics subscribe. The payload type lives here, next to its publisher
 * (dispatch.ts), so subscribers never cast.
 */
import type { RouteInfo } from './context.ts';
import { typedChannel } from './internal/channels.ts';

export interface RequestEvent {
  readonly ctx: { readonly id: string; readonly route: RouteInfo | undefined; readonly request: { readonly method: string; readonly path: string } };
  /** The route key (`GET /users/<int:id>`), undefined for unmatched requests. */
  readonly route: string | undefined;
  readonly status: number;
  readonly durationMs: number;
  /** The error the request failed with, if any (docs/admin.md). */
  readonly error?: unknown;
}

export const requestChannel = typedChannel<RequestEvent>('vial:request');
