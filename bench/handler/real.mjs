// The Intent Edge worker as built (worker/build/), behind the handler benchmark's repeat loop
// (loop.mjs). Every other request, the queue and the cron trigger reach the worker unchanged;
// the audience store class is the worker's own (its binding needs it exported here), so that a
// collect call in the loop enqueues what it recorded, as it does in production.
import Worker, { AudienceStore } from '../../worker/build/index.js';
import { withBenchLoop } from './loop.mjs';

export { AudienceStore };

export default {
  fetch(req, env, ctx) {
    // The built module's default export is its WorkerEntrypoint class; its handlers read the
    // environment and the context from `this`.
    const handle = (r) => Worker.prototype.fetch.call({ env, ctx }, r);
    return withBenchLoop(handle)(req);
  },
  queue(batch, env, ctx) {
    return Worker.prototype.queue.call({ env, ctx }, batch);
  },
  scheduled(event, env, ctx) {
    return Worker.prototype.scheduled.call({ env, ctx }, event);
  },
};
