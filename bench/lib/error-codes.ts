/**
 * The bench's own error codes, added to vial's registry the way a plugin adds its own
 * (docs/errors.md, "Codes of your own"). Types only.
 */
declare module '../../src/error-codes.ts' {
  interface VialErrorCodes {
    VIAL_ERR_BENCH_LOAD: true;
    VIAL_ERR_BENCH_MISMATCH: true;
    VIAL_ERR_BENCH_OPTIONS: true;
    VIAL_ERR_BENCH_SCENARIO: true;
    VIAL_ERR_BENCH_SERVER: true;
  }
}
export {};
