// The repeat loop of the handler benchmark (bench/js/handler.mjs), shared by both workers'
// bench entries: `POST /__bench` with `{"n": 300, "request": {method, path, headers, body},
// "baseline": false}` runs the worker's own handler `n` times on fresh copies of the request,
// reading each answer's body to its end (a proxied page is rewritten while it is read). With
// `"baseline": true` the loop copies the request the same way and answers a fixed response
// instead: what the loop itself costs, which the driver subtracts.
//
// workerd's clocks stand still while code runs (they move only across I/O), so the loop is
// timed from outside, by the driver, over the whole request: the `n` calls dwarf the one HTTP
// round trip, and the baseline takes that out with the loop.

/** Wraps `handle(request) -> Promise<Response>` with the bench route. */
export function withBenchLoop(handle) {
  return async (req) => {
    const url = new URL(req.url);
    if (url.pathname !== '/__bench') return handle(req);
    const { n, request, baseline } = await req.json();
    const target = new URL(request.path, url.origin).href;
    const init = { method: request.method, headers: request.headers };
    let bytes = 0;
    let statuses = {};
    for (let i = 0; i < n; i++) {
      const copy = new Request(target, request.body == null ? init : { ...init, body: request.body });
      let resp;
      if (baseline) {
        await copy.arrayBuffer();
        resp = new Response('{"ok":true}', { headers: { 'content-type': 'application/json' } });
      } else {
        resp = await handle(copy);
      }
      bytes += (await resp.arrayBuffer()).byteLength;
      statuses[resp.status] = (statuses[resp.status] ?? 0) + 1;
    }
    return Response.json({ n, bytes, statuses });
  };
}
