// The Intent Edge worker as built (worker/build/), behind the handler benchmark's repeat loop
// (loop.mjs). Every other request reaches the worker unchanged.
import Worker from '../../worker/build/index.js';
import { withBenchLoop } from './loop.mjs';

export default {
  fetch(req, env, ctx) {
    // The built module's default export is its WorkerEntrypoint class; its `fetch` reads the
    // environment and the context from `this`.
    const handle = (r) => Worker.prototype.fetch.call({ env, ctx }, r);
    return withBenchLoop(handle)(req);
  },
};
