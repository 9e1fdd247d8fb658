// Shrinks what wasm-bindgen generates, for the snippet's 12 KiB budget.
//
//   node minify.mjs OUT_DIR WASM_OPT
//
// 1. Code that only formats panic messages is replaced by `unreachable` (see `stub` below).
// 2. wasm-opt -Oz, and --minify-imports-and-exports-and-modules: wasm-bindgen names every
//    import `__wbg_<name>_<16 hex digits>`; the hashes do not compress and appear twice, in the
//    wasm and in the glue. Binaryen renames them to one or two letters and prints the mapping.
// 3. The glue is rewritten with that mapping, then bundled and minified by esbuild (from the
//    root package.json's tooling), which also drops what the loader does not use (the
//    asynchronous init: the loader fetches the wasm itself and calls `initSync`).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildSync } from "esbuild";

const [outDir, wasmOpt] = process.argv.slice(2);
const wasmPath = join(outDir, "intent_snippet_bg.wasm");
const gluePath = join(outDir, "intent_snippet.js");

const features = [
  "--enable-reference-types", "--enable-bulk-memory", "--enable-nontrapping-float-to-int",
  "--enable-sign-ext", "--enable-mutable-globals", "--enable-multivalue",
];

// NOTE: the crate is built with panic = "abort", and on wasm32-unknown-unknown a panic message
// is written nowhere: std formats it into a sink, then traps. The formatting machinery
// (core::fmt, about 3 KiB of wasm) stays linked anyway, because vtables in the data segment
// keep it in the function table where wasm-opt cannot prove it dead; likewise js-sys's JSPI
// task waker, which nothing calls without `#[wasm_bindgen(jspi)]` exports. Replacing those
// bodies with `unreachable` keeps behaviour (a panic still traps, only sooner) and lets
// wasm-opt drop everything they alone reach. Names are matched by the name section, which
// wasm-opt strips afterwards; a name that is not found leaves the wasm as it was.
const STUBBED = new RegExp([
  String.raw`^core\[[0-9a-f]+\]::fmt::write$`,
  String.raw`::fmt::Formatter>::pad`,
  String.raw`^std\[[0-9a-f]+\]::panicking::panic_with_hook$`,
  String.raw`^core\[[0-9a-f]+\]::panicking::panic_fmt$`,
  String.raw`panic_handler::FormatStringPayload as`,
  String.raw`^js_sys::futures::jspi::(SpawnedTask::wake|task_waker::)`,
  String.raw`panic_handler::StaticStrPayload as`,
].join("|"));

// NOTE: the same holds for closure shims. wasm-bindgen learns each closure signature from a
// describe function that takes the address of its `invoke` shim, so every signature js-sys and
// wasm-bindgen mention (dozens) leaves an `invoke` in the function table after the describe
// functions are gone, about 2 KiB. The glue calls the shims of the closures the snippet makes
// through exports it names; no other is ever called.
const used = new Set(readFileSync(gluePath, "utf8").match(/(?<=closures_____invoke__)h[0-9a-f]{16}/g));
const INVOKE = /^wasm_bindgen::convert::closures::_::invoke::(h[0-9a-f]{16})$/;
const stubbed = (name) => {
  const invoke = INVOKE.exec(name);
  return invoke ? !used.has(invoke[1]) : STUBBED.test(name);
};

function stub(path, isStubbed) {
  const b = readFileSync(path);
  const leb = (i) => {
    let r = 0, shift = 0, x;
    do { x = b[i++]; r |= (x & 0x7f) << shift; shift += 7; } while (x & 0x80);
    return [r >>> 0, i];
  };
  const uleb = (n) => {
    const out = [];
    do { let x = n & 0x7f; n >>>= 7; if (n) x |= 0x80; out.push(x); } while (n);
    return Buffer.from(out);
  };
  let i = 8, imported = 0, code = null;
  const names = new Map();
  while (i < b.length) {
    const id = b[i++];
    let n;
    [n, i] = leb(i);
    const start = i, end = i + n;
    if (id === 2) {
      // Imported functions come first in the function index space.
      let j = start, count, len;
      [count, j] = leb(j);
      for (let k = 0; k < count; k++) {
        [len, j] = leb(j); j += len;
        [len, j] = leb(j); j += len;
        const kind = b[j++];
        let flags;
        if (kind === 0) { [, j] = leb(j); imported++; }
        else if (kind === 1) { j++; [flags, j] = leb(j); [, j] = leb(j); if (flags & 1) [, j] = leb(j); }
        else if (kind === 2) { [flags, j] = leb(j); [, j] = leb(j); if (flags & 1) [, j] = leb(j); }
        else if (kind === 3) { j += 2; }
        else if (kind === 4) { j++; [, j] = leb(j); }
      }
    } else if (id === 10) {
      code = { start, end, header: i - 1 - uleb(n).length };
    } else if (id === 0) {
      let j = start, len;
      [len, j] = leb(j);
      if (b.toString("utf8", j, j + len) === "name") {
        j += len;
        while (j < end) {
          const sub = b[j++];
          [len, j] = leb(j);
          const subEnd = j + len;
          if (sub === 1) {
            let count, idx;
            [count, j] = leb(j);
            for (let k = 0; k < count; k++) {
              [idx, j] = leb(j); [len, j] = leb(j);
              names.set(idx, b.toString("utf8", j, j + len)); j += len;
            }
          }
          j = subEnd;
        }
      }
    }
    i = end;
  }
  if (!code) return;
  let j = code.start, count;
  [count, j] = leb(j);
  const bodies = [];
  for (let k = 0; k < count; k++) {
    let size, p;
    [size, p] = leb(j);
    // No locals; `unreachable`; `end`.
    bodies.push(isStubbed(names.get(imported + k) || "") ? Buffer.from([3, 0, 0x00, 0x0b]) : b.subarray(j, p + size));
    j = p + size;
  }
  const payload = Buffer.concat([uleb(count), ...bodies]);
  writeFileSync(path, Buffer.concat([
    b.subarray(0, code.header), Buffer.from([10]), uleb(payload.length), payload, b.subarray(code.end),
  ]));
}
if (used.size === 0) throw new Error("glue: no closure shim found");
stub(wasmPath, stubbed);
// -Oz twice: the second pass finds what the first one's inlining exposed. Low memory (the first
// 1 KiB) is unused: Rust's data starts at 1 MiB, and its stack would have to be nearly 1 MiB
// deep to reach it. KEEP_NAMES=1 (scripts/profile-snippet.sh) keeps the function names, for
// twiggy, and is never shipped.
const names = process.env.KEEP_NAMES === "1" ? ["-g", "--strip-dwarf"] : ["--strip-debug"];
const mapText = execFileSync(wasmOpt, [
  "--low-memory-unused", "-Oz", "-Oz", ...features, ...names, "--strip-producers", "--strip-target-features",
  "--minify-imports-and-exports-and-modules", wasmPath, "-o", wasmPath,
], { encoding: "utf8" });
const map = JSON.parse(mapText.slice(mapText.indexOf("{")));

const imports = WebAssembly.Module.imports(new WebAssembly.Module(readFileSync(wasmPath)));
const modules = new Set(imports.map((i) => i.module));
if (modules.size !== 1) throw new Error(`expected one import module, found ${[...modules]}`);
const [module] = modules;

const escape = (s) => s.replace(/[$]/g, "\\$&");
let glue = readFileSync(gluePath, "utf8");
const replace = (pattern, by, what) => {
  const before = glue;
  glue = glue.replace(pattern, by);
  if (glue === before) throw new Error(`glue: ${what} not found`);
};
replace(/"\.\/intent_snippet_bg\.js": import0/, `"${module}": import0`, "import module");
// The helpers of src/dom.rs (`inline_js`) are imports of their own module, which the glue
// passes as one namespace object per import; now that binaryen gave every import the same
// module, they join the others under their short names.
const helpers = new Map();
for (const [from, name, short] of map.imports) {
  if (from === "./intent_snippet_bg.js") {
    replace(new RegExp(`\\b${escape(name)}(?=: function)`), JSON.stringify(short), `import ${name}`);
    continue;
  }
  if (!helpers.has(from)) helpers.set(from, `helpers${helpers.size}`);
  replace(/const import0 = \{\n\s*__proto__: null,/,
    (head) => `${head}\n${JSON.stringify(short)}: ${helpers.get(from)}[${JSON.stringify(name)}],`, `helper ${name}`);
}
glue = glue.replace(/^\s*"\.\/snippets\/[^"]*": import\d+,$/gm, "");
glue = [...helpers].map(([from, id]) => `import * as ${id} from ${JSON.stringify(from)};\n`).join("") + glue;
for (const [name, short] of map.exports) {
  // Not every export is used by the glue (the abort-handler globals are not).
  glue = glue.replace(new RegExp(`\\bwasm\\.${escape(name)}\\b`, "g"), `wasm.${short}`);
}
writeFileSync(gluePath, glue);

const entry = join(outDir, "entry.mjs");
writeFileSync(entry, 'export { initSync, start } from "./intent_snippet.js";\n');
buildSync({
  entryPoints: [entry], bundle: true, minify: true, format: "esm", target: "es2020",
  outfile: gluePath, allowOverwrite: true, legalComments: "none", logLevel: "warning",
});
rmSync(entry);
// The helpers of src/dom.rs (`inline_js`) are bundled into the glue above.
rmSync(join(outDir, "snippets"), { recursive: true, force: true });
