// The worker as deployed (worker/main.js) with two routes more, for tests/worker/entry.test.mjs:
// `GET /__test/state` answers worker-build's recovery state (`globalThis.__worker_init_state`),
// and `POST /__test/trapped` marks the wasm instance as trapped in it, as worker/js/entry.js does
// when the Rust code aborts. Everything else reaches the worker unchanged.
import Worker, { AudienceStore } from '../../worker/main.js';

export { AudienceStore };

export default {
  fetch(req, env, ctx) {
    const path = new URL(req.url).pathname;
    const state = globalThis.__worker_init_state;
    if (path === '/__test/state') return Response.json(state);
    if (path === '/__test/trapped' && req.method === 'POST') {
      state.criticalError = true;
      return Response.json(state);
    }
    return Worker.fetch(req, env, ctx);
  },
  queue(batch, env, ctx) {
    return Worker.queue(batch, env, ctx);
  },
  scheduled(event, env, ctx) {
    return Worker.scheduled(event, env, ctx);
  },
};
