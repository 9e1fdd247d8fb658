// The worker's entry module (wrangler.toml `main`): the Rust worker built into worker/build/
// (scripts/build-worker.sh), called without worker-build's per-request proxies
// (worker/js/entry.js says why and how a trapped wasm instance is still made again).
import Rust, { AudienceStore } from './build/index.js';
import { entry } from './js/entry.js';

// The audience store's Durable Object class, bound in wrangler.toml.
export { AudienceStore };

export default entry(Rust, globalThis.__worker_init_state);
