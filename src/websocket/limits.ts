/**
 * Open sockets per route (a bulkhead, so one route cannot take every socket the process can hold)
 * and per process. Counted from the moment an upgrade is admitted, not from the open, so a burst
 * of slow handshakes cannot overshoot the limits while their before hooks run.
 *
 * Pure module: counters only; the plugin calls enter() at admission and leave() exactly once when
 * the upgrade fails or the socket closes.
 */
export type ConnectionRefusal = 'route-full' | 'process-full' | 'closing';

export interface RouteCount {
  readonly route: string;
  readonly limit: number;
  open: number;
}

export class ConnectionLimits {
  readonly maxPerProcess: number;
  #open = 0;
  #closing = false;
  readonly #routes = new Map<string, RouteCount>();

  constructor(maxPerProcess: number) {
    this.maxPerProcess = maxPerProcess;
  }

  /** Registers a route's bulkhead; called once per ws route when the route table is built. */
  route(key: string, limit: number): RouteCount {
    let count = this.#routes.get(key);
    if (count === undefined) {
      count = { route: key, limit, open: 0 };
      this.#routes.set(key, count);
    }
    return count;
  }

  /** Takes a slot for an upgrade of `route`, or says why not. */
  enter(route: RouteCount): ConnectionRefusal | undefined {
    if (this.#closing) return 'closing';
    if (route.open >= route.limit) return 'route-full';
    if (this.#open >= this.maxPerProcess) return 'process-full';
    route.open++;
    this.#open++;
    return undefined;
  }

  leave(route: RouteCount): void {
    route.open--;
    this.#open--;
  }

  /** From now on every upgrade is refused (graceful shutdown). */
  close(): void {
    this.#closing = true;
  }

  get closing(): boolean {
    return this.#closing;
  }

  get open(): number {
    return this.#open;
  }

  routes(): readonly RouteCount[] {
    return [...this.#routes.values()];
  }
}
