/**
 * Typed diagnostics channels. A channel's name and payload type live next to its publisher:
 * `export const blockChannel = typedChannel<BlockReport>('vial:block')`; subscribers get the
 * payload type, never `unknown` to cast. A leaf module: imports nothing of vial's.
 */
import { channel } from 'node:diagnostics_channel';

export interface TypedChannel<T> {
  readonly name: string;
  /** False while nobody listens: check it before building an expensive payload. */
  readonly hasSubscribers: boolean;
  publish(message: T): void;
  subscribe(listener: (message: T) => void): void;
  unsubscribe(listener: (message: T) => void): void;
}

/** One node:diagnostics_channel channel with a payload type (`vial:request`, `vial:shed`, ...). */
export function typedChannel<T>(name: string): TypedChannel<T> {
  const raw = channel(name);
  // The wrapper maps each typed listener to the untyped one node:diagnostics_channel stores.
  const wrapped = new WeakMap<(message: T) => void, (message: unknown) => void>();
  return {
    name,
    get hasSubscribers() {
      return raw.hasSubscribers;
    },
    publish(message) {
      raw.publish(message);
    },
    subscribe(listener) {
      let inner = wrapped.get(listener);
      if (inner === undefined) {
        inner = (message: unknown) => listener(message as T);
        wrapped.set(listener, inner);
      }
      raw.subscribe(inner);
    },
    unsubscribe(listener) {
      const inner = wrapped.get(listener);
      if (inner !== undefined) raw.unsubscribe(inner);
    },
  };
}
