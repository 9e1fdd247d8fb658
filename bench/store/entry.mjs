// The Intent Edge worker as deployed (worker/main.js), with one route more for the audience store
// benchmark (bench/js/audiences.mjs): `POST /__bench/ingest?object=NAME` with batches of records
// as JSON Lines (one array of records a line) hands each batch in turn to the store object
// NAME's ingest, exactly as the queue consumer hands over a batch, and answers what was
// stored. One request carries many batches, so that what is timed is the worker and the store,
// not the benchmark's own HTTP round trips. Every other request, and the queue, reach the
// worker unchanged; the store class is the worker's own.
import Worker, { AudienceStore } from '../../worker/main.js';

export { AudienceStore };

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url);
    if (url.pathname === '/__bench/ingest') {
      const stub = env.AUDIENCES.get(env.AUDIENCES.idFromName(url.searchParams.get('object')));
      const lines = (await req.text()).split('\n').filter((l) => l.length);
      const done = { batches: 0, events: 0, duplicates: 0, rejected: 0 };
      for (const line of lines) {
        const r = await stub.fetch('https://audience-store/ingest', { method: 'POST', body: line });
        const text = await r.text();
        if (r.status !== 200) return new Response(text, { status: r.status });
        const answer = JSON.parse(text);
        done.batches += 1;
        done.events += answer.events;
        done.duplicates += answer.duplicates;
        done.rejected += answer.rejected.length;
      }
      return Response.json(done);
    }
    return Worker.fetch(req, env, ctx);
  },
  queue(batch, env, ctx) {
    return Worker.queue(batch, env, ctx);
  },
};
