#!/usr/bin/env node
// The `ortrl` command. Runs the built CLI (npm ci builds it through the root `prepare` script).
import { existsSync } from "node:fs";
const entry = new URL("../dist/main.js", import.meta.url);
if (!existsSync(entry)) {
  console.error("ortrl: error: the CLI is not built; run `npm run build` in the repository root");
  process.exit(1);
}
await import(entry.href);
