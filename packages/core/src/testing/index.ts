/**
 * `@ortrl/core/testing`: helpers for tests of ortrl and of method plugins — where the shared golden
 * fixtures are (SHARED_DIR; set ORTRL_SHARED outside this repository), their readers, an element-wise
 * comparison with tolerances, and bad-input helpers (the message an operation fails with, edited
 * copies of a model or adapter directory).
 */
export * from "./fixtures.js";
export * from "./edits.js";
