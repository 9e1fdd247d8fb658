// The Intent Edge worker as deployed (worker/main.js), with one route more for the queue benchmark
// (bench/js/queue.mjs): `POST /__bench/send?type=T&n=N` with a message's text as the body sends
// it N times to the `intent-events` queue (`EVENTS`), each send in `ctx.waitUntil` as a collect
// call does: T is the content type (`text`, `bytes`, `json`, `v8`), `batch` for `sendBatch`es of a
// hundred, as text, or `none` for the loop alone. Its messages carry `"bench": true` and are
// acknowledged by this entry's consumer without reaching the stores; every other request and
// message reach the worker unchanged.
import Worker, { AudienceStore } from '../../worker/main.js';

export { AudienceStore };

const isBench = (m) => (typeof m.body === 'string' ? m.body.startsWith('{"bench":true') : m.body?.bench === true || m.body instanceof ArrayBuffer || ArrayBuffer.isView(m.body));

export default {
  async fetch(req, env, ctx) {
    const url = new URL(req.url);
    if (url.pathname !== '/__bench/send') return Worker.fetch(req, env, ctx);
    const n = Number(url.searchParams.get('n'));
    const type = url.searchParams.get('type');
    const text = await req.text();
    const sent = [];
    if (type === 'batch') {
      // A hundred messages a `sendBatch`, the most it takes.
      for (let i = 0; i < n; i += 100) {
        sent.push(env.EVENTS.sendBatch(Array.from({ length: Math.min(100, n - i) }, () => ({ body: text, contentType: 'text' }))));
      }
    } else if (type !== 'none') {
      for (let i = 0; i < n; i++) {
        const body = type === 'bytes' ? new TextEncoder().encode(text) : type === 'json' || type === 'v8' ? JSON.parse(text) : text;
        sent.push(env.EVENTS.send(body, { contentType: type }));
      }
    }
    for (const p of sent) ctx.waitUntil(p);
    await Promise.all(sent);
    return Response.json({ n, type });
  },
  queue(batch, env, ctx) {
    if (batch.messages.every(isBench)) {
      batch.ackAll();
      return undefined;
    }
    return Worker.queue(batch, env, ctx);
  },
};
