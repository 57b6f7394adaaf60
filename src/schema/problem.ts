/**
 * RFC 9457 problem details: the one shape of every answer the schema plugin gives a client that
 * sent something it cannot accept. Pure.
 *
 * The split, kept everywhere (docs/schemas.md): a request vial cannot parse is 400 (malformed JSON,
 * invalid UTF-8), or the body reader's own 413 and 415; a request that parses but does not match the
 * route's schema is 422 Unprocessable Content (RFC 9110 §15.5.21), whichever part failed.
 */
import { VialResponse } from '../response.ts';
import type { ValidationIssue } from './issues.ts';

export const PROBLEM_TYPE = 'application/problem+json';

export interface ProblemIssue {
  readonly in: ValidationIssue['in'];
  readonly path: readonly (string | number)[];
  readonly pointer: string;
  readonly message: string;
}

/** The body of a 400, 413, 415 or 422 from a route with a schema. */
export interface ProblemDetails {
  /** A URI for the kind of problem; `about:blank` unless the app configures its own (`schemas({ problemTypes })`). */
  readonly type: string;
  /** The status phrase (RFC 9457 §3.1.3 with `about:blank`). */
  readonly title: string;
  readonly status: number;
  /** What happened and what to do, in a sentence. */
  readonly detail: string;
  /** The request path the problem occurred on. */
  readonly instance: string;
  /** vial's stable error code (docs/errors.md). */
  readonly code: string;
  readonly requestId: string;
  /** Each issue, for 422: where and what. */
  readonly errors?: readonly ProblemIssue[];
}

export interface ProblemInput {
  readonly status: number;
  readonly title: string;
  readonly type: string;
  readonly detail: string;
  readonly instance: string;
  readonly code: string;
  readonly requestId: string;
  readonly errors?: readonly ValidationIssue[];
  readonly headers?: Readonly<Record<string, string>>;
}

export function problemDetails(input: ProblemInput): ProblemDetails {
  const body: ProblemDetails = {
    type: input.type,
    title: input.title,
    status: input.status,
    detail: input.detail,
    instance: input.instance,
    code: input.code,
    requestId: input.requestId,
    ...(input.errors === undefined ? {} : { errors: input.errors.map(({ in: part, path, pointer, message }) => ({ in: part, path, pointer, message })) }),
  };
  return body;
}

export function problemResponse(input: ProblemInput): VialResponse {
  const headers: Record<string, string> = { 'content-type': PROBLEM_TYPE };
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value;
  return new VialResponse(JSON.stringify(problemDetails(input)), input.status, headers);
}

/** The `detail` of a 422: which part failed, how many issues, what to do. */
export function summarize(issues: readonly ValidationIssue[]): string {
  const parts = [...new Set(issues.map((i) => i.in))];
  const part = parts.length === 1 ? (parts[0] as ValidationIssue['in']) : undefined;
  // "The request path parameters do not match", "The request body does not match".
  const where = part === undefined ? 'The request does' : `The request ${partName(part)} ${part === 'params' || part === 'headers' ? 'do' : 'does'}`;
  const count = issues.length === 1 ? '1 issue' : `${issues.length} issues`;
  return `${where} not match the route's schema (${count}); see "errors" for each one, fix them and send it again.`;
}

function partName(part: ValidationIssue['in']): string {
  switch (part) {
    case 'params': return 'path parameters';
    case 'query': return 'query string';
    case 'headers': return 'headers';
    case 'body': return 'body';
    case 'response': return 'response';
  }
}
