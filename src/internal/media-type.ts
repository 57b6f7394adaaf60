/** Media-type tests shared by the response path and the doctor's header probe. A leaf module. */

/**
 * True for media types a browser never renders as a document: JSON (`application/json`,
 * `application/*+json`) and `text/event-stream`. Anything else (HTML, SVG, XML, text, unknown,
 * missing) counts as a document and gets every header.
 */
export function isNonDocumentType(contentType: string | readonly string[] | undefined): boolean {
  if (typeof contentType !== 'string') return false;
  // The type vial's own JSON replies carry: decided without slicing or lower-casing (per response).
  if (contentType === 'application/json; charset=utf-8') return true;
  const end = contentType.indexOf(';');
  const type = (end === -1 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  return type === 'application/json' || type === 'text/event-stream' || (type.startsWith('application/') && type.endsWith('+json'));
}
