// The Intent Edge worker as deployed (worker/main.js, the entry wrangler.toml names), behind the
// handler benchmark's repeat loop (loop.mjs): each call of the loop is the call workerd makes for a
// request. Every other request, the queue and the cron trigger reach the worker unchanged; the
// audience store class is the worker's own (its binding needs it exported here), so that a
// collect call in the loop enqueues what it recorded, as it does in production.
import Worker, { AudienceStore } from '../../worker/main.js';
import { withBenchLoop } from './loop.mjs';

export { AudienceStore };

export default {
  fetch(req, env, ctx) {
    return withBenchLoop((r) => Worker.fetch(r, env, ctx))(req);
  },
  queue(batch, env, ctx) {
    return Worker.queue(batch, env, ctx);
  },
  scheduled(event, env, ctx) {
    return Worker.scheduled(event, env, ctx);
  },
};
