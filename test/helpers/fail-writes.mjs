// Test-only fault injection, preloaded with NODE_OPTIONS="--import <this file>": writes to files whose
// path matches the regular expression ORTRL_FAIL_WRITES fail with ENOSPC ("no space left on device"),
// as they would on a full disk (the open succeeds; the first write fails).
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";

const pattern = new RegExp(process.env.ORTRL_FAIL_WRITES ?? "(?!)");
const doomed = new Set();
const enospc = (syscall, path) => Object.assign(new Error(`ENOSPC: no space left on device, ${syscall}`), { code: "ENOSPC", errno: -28, syscall, ...(path ? { path } : {}) });

const { openSync, writeSync, closeSync, appendFileSync, writeFileSync } = fs;
fs.openSync = function (path, flags, mode) {
  const fd = openSync.call(fs, path, flags, mode);
  if (typeof path === "string" && pattern.test(path) && /[wa+]/.test(String(flags ?? "r"))) doomed.add(fd);
  return fd;
};
fs.writeSync = function (fd, ...rest) {
  if (doomed.has(fd)) throw enospc("write");
  return writeSync.call(fs, fd, ...rest);
};
fs.closeSync = function (fd) {
  doomed.delete(fd);
  return closeSync.call(fs, fd);
};
fs.appendFileSync = function (path, ...rest) {
  if (typeof path === "string" && pattern.test(path)) throw enospc("write");
  return appendFileSync.call(fs, path, ...rest);
};
fs.writeFileSync = function (path, ...rest) {
  if (typeof path === "string" && pattern.test(path)) throw enospc("write");
  return writeFileSync.call(fs, path, ...rest);
};
syncBuiltinESMExports();
