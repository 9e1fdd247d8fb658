// The worker's two steps that are cheaper in JavaScript than through wasm-bindgen, imported by
// `worker/src/runtime/http.rs` (wasm-bindgen bundles this file into the worker).

/**
 * An answer the worker wrote, as one `Response`: `head` is the status and the headers, one per
 * line (`200\nname\nvalue\nname\nvalue…`, `Answer::head` in `worker/src/headers.rs`: no header
 * name or value can hold a line break), `body` the bytes (a view of wasm memory, which the
 * runtime copies) or `undefined`. The headers go to the constructor as one plain object, the
 * cheapest form the runtime reads; a name that repeats (`Vary`, `Set-Cookie`) is appended after.
 */
export function respond(head, body) {
  const lines = head.split('\n');
  const headers = {};
  let repeated;
  for (let i = 1; i < lines.length; i += 2) {
    const name = lines[i];
    if (Object.hasOwn(headers, name)) (repeated ??= []).push(name, lines[i + 1]);
    else headers[name] = lines[i + 1];
  }
  const response = new Response(body, { status: Number(lines[0]), headers });
  if (repeated) {
    for (let i = 0; i < repeated.length; i += 2) response.headers.append(repeated[i], repeated[i + 1]);
  }
  return response;
}

/**
 * Reads the request's body in one native call (the caller has checked its declared length)
 * and hands it to `next` with the request, the environment and the context: `next(request,
 * env, ctx, bytes, undefined)`, or `next(request, env, ctx, undefined, error)` when the read
 * failed. Resolves to what `next` answers.
 */
export function readBody(request, env, ctx, next) {
  return request.arrayBuffer().then(
    (buffer) => next(request, env, ctx, new Uint8Array(buffer), undefined),
    (error) => next(request, env, ctx, undefined, error),
  );
}
