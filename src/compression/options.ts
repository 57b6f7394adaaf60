/** The compression plugin's options (a leaf, so the app's config can name them without importing the plugin). */
import type { Encoding } from './negotiate.ts';

export interface CompressionOptions {
  /** Bodies smaller than this go out as they are. Default 1024 (below ~1 KiB the headers cost more than is saved). */
  readonly minBytes?: number;
  /** Codings offered, in our order of preference among equal q-values. Default zstd (where the runtime has it), br, gzip. */
  readonly encodings?: readonly Encoding[];
  /** Buffered compressions at once; past it, replies go out uncompressed. Default 4 (libuv's thread pool size). */
  readonly maxConcurrent?: number;
  /** Levels: brotli quality 0-11 (default 4), gzip 1-9 (default 4), zstd 1-19 (default 1). */
  readonly levels?: { readonly br?: number; readonly gzip?: number; readonly zstd?: number };
}
