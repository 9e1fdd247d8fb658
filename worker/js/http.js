// The worker's steps that are cheaper in JavaScript than through wasm-bindgen, imported by
// `worker/src/runtime/http.rs` and `worker/src/runtime/pipeline.rs` (wasm-bindgen bundles this
// file into the worker).

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

/** How every call's message goes to its queue: as text, which the consumer reads as a string. */
const AS_TEXT = { contentType: 'text' };

/**
 * Sends `text` to the queue bound as `binding` once the answer is on its way
 * (`ctx.waitUntil(queue.send(…))`), straight from here: no future in wasm to drive it, one call
 * out of wasm in all. A failed send is logged: what a call recorded is never the visitor's to
 * wait for. Answers false, sending nothing, when the worker has no such binding.
 */
export function enqueue(env, ctx, binding, text) {
  const queue = env[binding];
  if (queue == null || typeof queue.send !== 'function') return false;
  let sent;
  try {
    sent = queue.send(text, AS_TEXT);
  } catch (error) {
    sent = Promise.reject(error);
  }
  ctx.waitUntil(sent.catch((error) => console.error(`enqueueing a call's events failed: ${error}`)));
  return true;
}
