/** A handler's reply that does not match its response schema (checked in development and test). */
import { VialError } from '../errors.ts';
import type { ValidationIssue } from './issues.ts';

export class ResponseValidationError extends VialError {
  readonly route: string;
  readonly responseStatus: number;
  readonly issues: readonly ValidationIssue[];

  constructor(route: string, status: number, issues: readonly ValidationIssue[]) {
    const list = issues.slice(0, 5).map((i) => `${i.pointer === '#' ? 'the body' : i.pointer} ${i.message}`).join('; ');
    super(
      'VIAL_ERR_RESPONSE_SCHEMA',
      `The handler of ${route} returned a ${status} body that does not match schema.response[${status}]: ${list}${issues.length > 5 ? ` (and ${issues.length - 5} more)` : ''}. ` +
        'Fix the handler or the schema; the client got a 500 (responses are checked in development and test only).',
      { status: 500, expose: false },
    );
    this.route = route;
    this.responseStatus = status;
    this.issues = issues;
  }
}
