// The converter is pure data (zod, no browser), so it lives in core where access (the import
// file) and http (the admin API) can reach it too; re-exported here beside the runner.
export { importJumpServerAutofill, jumpServerAutofillSchema, type JumpServerImport } from '../../core/index.js';
