// Cold start of a wasm module, as an isolate pays it: compile the bytes and instantiate them.
//
//   node bench/js/coldstart.mjs FILE.wasm        one measurement, printed as JSON
//
// Run it in a fresh process per measurement (bench/run.sh does), so that no compiled code is
// reused. Imports are stubbed: the module's start-up does not call them, and the bindings'
// own JavaScript glue is loaded and parsed once per isolate either way.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const bytes = readFileSync(process.argv[2]);
const t0 = performance.now();
const module = await WebAssembly.compile(bytes);
const t1 = performance.now();
const imports = {};
for (const imp of WebAssembly.Module.imports(module)) {
  imports[imp.module] ??= {};
  let value;
  switch (imp.kind) {
    case 'function':
      value = () => {
        throw new Error(`${imp.name} is a stub`);
      };
      break;
    case 'tag':
      value = WebAssembly.JSTag ?? new WebAssembly.Tag({ parameters: ['externref'] });
      break;
    case 'memory':
      value = new WebAssembly.Memory({ initial: 17 });
      break;
    case 'table':
      value = new WebAssembly.Table({ initial: 128, element: 'anyfunc' });
      break;
    default:
      value = new WebAssembly.Global({ value: 'i32', mutable: true }, 0);
  }
  imports[imp.module][imp.name] = value;
}
await WebAssembly.instantiate(module, imports);
const t2 = performance.now();
console.log(JSON.stringify({ bytes: bytes.length, compile_ms: t1 - t0, instantiate_ms: t2 - t1, total_ms: t2 - t0 }));
