#!/usr/bin/env node
// Folder-level import cycles in a source tree (plain Node, no dependencies).
//
//   node scripts/check-folder-cycles.mjs [root]      (default: packages/core/src)
//
// Every .ts file under root is read and every relative module specifier is
// taken as an edge: `import … from`, `import type … from`, `export … from`,
// side-effect `import "…"` and `import("…")` — type-only imports count, since
// a folder that needs another folder's types depends on it just the same.
// A file belongs to the first folder under root (src/ops/x.ts → "ops"; files
// directly in root, such as index.ts, belong to no folder and are skipped).
//
// Test files (*.test.ts, *.bench.ts) are left out unless --with-tests is given:
// nothing imports a test, so a test cannot close a cycle between modules, and a
// folder's tests may use higher folders (e.g. ops/ tests run ops on runtime/).
//
// Prints the folders bottom-up in layers (each folder above everything it
// imports) and exits 0; on a cycle, prints each cycle with one importing file
// per edge and exits 1.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const args = process.argv.slice(2);
const withTests = args.includes("--with-tests");
const root = resolve(args.find((a) => !a.startsWith("--")) ?? "packages/core/src");
const TEST_FILE = /\.(test|bench)\.[mc]?ts$/;

function walk(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== "node_modules") walk(p, out);
    } else if (/\.[mc]?ts$/.test(name) && !name.endsWith(".d.ts") && (withTests || !TEST_FILE.test(name))) {
      out.push(p);
    }
  }
  return out;
}

// Static imports and re-exports start a line (at top level they always do in this code base); dynamic
// `import("…")` may appear anywhere except in a comment line.
const STATIC = [
  /^[ \t]*(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*["']([^"']+)["']/gm,
  /^[ \t]*import\s*["']([^"']+)["']/gm,
];
const DYNAMIC = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

function specifiers(src) {
  const out = [];
  for (const re of STATIC) for (const m of src.matchAll(re)) out.push(m[1]);
  for (const m of src.matchAll(DYNAMIC)) {
    const lineStart = src.lastIndexOf("\n", m.index) + 1;
    if (!/^\s*(\*|\/\/|\/\*)/.test(src.slice(lineStart, m.index))) out.push(m[1]);
  }
  return out;
}

function folderOf(file) {
  const rel = relative(root, file);
  if (rel.startsWith("..")) return null; // outside root
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : null;
}

/** folder → Map(folder → first "file → specifier" seen) */
const edges = new Map();
const folders = new Set();
for (const file of walk(root)) {
  const from = folderOf(file);
  if (from === null) continue;
  folders.add(from);
  if (!edges.has(from)) edges.set(from, new Map());
  for (const spec of specifiers(readFileSync(file, "utf8"))) {
    if (!spec.startsWith(".")) continue;
    const to = folderOf(resolve(dirname(file), spec));
    if (to === null || to === from) continue;
    const out = edges.get(from);
    if (!out.has(to)) out.set(to, `${relative(root, file)} → ${spec}`);
  }
}
for (const f of folders) if (!edges.has(f)) edges.set(f, new Map());

// Tarjan's strongly connected components; components come out bottom-up.
let index = 0;
const idx = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
function connect(v) {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of [...edges.get(v).keys()].sort()) {
    if (!idx.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) {
      low.set(v, Math.min(low.get(v), idx.get(w)));
    }
  }
  if (low.get(v) === idx.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    components.push(comp.sort());
  }
}
for (const f of [...folders].sort()) if (!idx.has(f)) connect(f);

/** A shortest cycle through `start` inside `comp` (breadth-first). */
function cycleThrough(start, comp) {
  const inComp = new Set(comp);
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of [...edges.get(v).keys()].sort()) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        const path = [v];
        for (let p = prev.get(v); p !== null; p = prev.get(p)) path.unshift(p);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}

const cyclic = components.filter((c) => c.length > 1);
const rel = relative(process.cwd(), root) || ".";
if (cyclic.length === 0) {
  console.log(`no folder import cycles in ${rel}`);
  // Layers: a folder sits one above the highest folder it imports (components come out dependencies first).
  const layer = new Map();
  for (const [c] of components) layer.set(c, Math.max(-1, ...[...edges.get(c).keys()].map((d) => layer.get(d))) + 1);
  const byLayer = [];
  for (const [c, l] of layer) (byLayer[l] ??= []).push(c);
  console.log("bottom-up (a folder imports only folders in layers below it):");
  byLayer.forEach((cs, l) => {
    for (const c of cs.sort()) {
      const deps = [...edges.get(c).keys()].sort();
      console.log(`  ${l}  ${c}${deps.length > 0 ? `  (imports ${deps.join(", ")})` : ""}`);
    }
  });
  process.exit(0);
}

console.error(`folder import cycles in ${rel}:`);
for (const comp of cyclic) {
  console.error(`\n  folders in one cycle: ${comp.join(", ")}`);
  const seen = new Set();
  for (const start of comp) {
    const cycle = cycleThrough(start, comp);
    const key = [...cycle.slice(0, -1)].sort().join(",");
    if (seen.has(key)) continue;
    seen.add(key);
    console.error(`  cycle: ${cycle.join(" → ")}`);
    for (let i = 0; i + 1 < cycle.length; i++) {
      console.error(`    ${cycle[i]} → ${cycle[i + 1]}: ${edges.get(cycle[i]).get(cycle[i + 1])}`);
    }
  }
}
process.exit(1);
