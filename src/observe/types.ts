/**
 * The part of the app the observe and admin modules read. A structural type (not the Vial class)
 * so tests can pass a small fake, and so these modules never import app.ts at runtime.
 */
import type { Logger } from 'pino';
import type { Vial } from '../app.ts';

export type ObservedApp = Pick<Vial, 'load' | 'security' | 'monitors' | 'routeList' | 'config'> & { readonly log: Logger };
