/** The conditional plugin's options (a leaf, so the app's config can name them without importing the plugin). */
export interface ConditionalOptions {
  /** Bodies smaller than this get no ETag: a 304 would save little. Default 1024 (so tiny replies, the commonest, keep vial's fast path). */
  readonly minBytes?: number;
}
