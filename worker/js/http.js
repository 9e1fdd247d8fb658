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

/** What stands for a header that was not sent: no header value can hold a NUL. */
const ABSENT = '\0';

/**
 * The request's head in one string, one value a line: the method, the URL and the `Origin`
 * header (`ABSENT` when none was sent). Neither a URL (its parser drops line breaks) nor a
 * header value (the runtime refuses NUL, CR and LF in them) can hold a line break.
 * `HeadAt::find` in `worker/src/request.rs` reads it.
 */
export function head(request) {
  return `${request.method}\n${request.url}\n${request.headers.get('origin') ?? ABSENT}`;
}

/**
 * The request headers the API's handlers read, in this order.
 * Twin: `SENT` in `worker/src/request.rs` (a test there holds the two lists to each other).
 */
const SENT = ['content-type', 'content-encoding', 'content-length', 'sec-gpc', 'dnt', 'user-agent', 'cookie', 'sec-fetch-site', 'x-intent-profile'];

/**
 * The values of the `SENT` headers in one string, one a line, `ABSENT` for each not sent
 * (`Sent::parse` in `worker/src/request.rs` reads it).
 */
export function sent(request) {
  const headers = request.headers;
  let text = headers.get(SENT[0]) ?? ABSENT;
  for (let i = 1; i < SENT.length; i++) text += `\n${headers.get(SENT[i]) ?? ABSENT}`;
  return text;
}

/**
 * Reads the request's body in one native call (the caller has checked its declared length)
 * and hands it to `next` with the request, the environment, the context and what the worker
 * had read of the request (`head`, then `sent` if it was read, one string: the second run
 * reads neither again): `next(request, env, ctx, bytes, undefined, carried)`, or
 * `next(request, env, ctx, undefined, error, carried)` when the read failed. Resolves to what
 * `next` answers.
 */
export function readBody(request, env, ctx, next, head, sent) {
  const carried = sent === undefined ? head : `${head}\n${sent}`;
  return request.arrayBuffer().then(
    (buffer) => next(request, env, ctx, new Uint8Array(buffer), undefined, carried),
    (error) => next(request, env, ctx, undefined, error, carried),
  );
}

/**
 * Calls' records wait this long for others of the same isolate (concurrent calls) to share one
 * message: the runtime's price of a queue message is the same for one call's records as for a
 * hundred calls', and so is Cloudflare's bill (per operation, per 64 KB).
 */
const BATCH_WAIT_MS = 20;
/** The most calls one message holds. */
const BATCH_CALLS = 100;
/**
 * And at most 60,000 bytes of them (UTF-8, as the queue counts): a queue message may have 128 KB,
 * and is billed per 64 KB it writes, reads and deletes. A call's records are a few hundred.
 */
const BATCH_BYTES = 60_000;

/** The message being filled, by binding name: `{queue, calls, bytes, sent}`. */
const filling = new Map();

/**
 * Sends `text` (one call's records, a JSON object of `bytes` bytes in UTF-8) to the queue bound as `binding` once the
 * answer is on its way, straight from here: no future in wasm to drive it, one call out of wasm
 * in all. The text joins the message this isolate is filling, a JSON array of calls; the call
 * that opened the message sends it `BATCH_WAIT_MS` later in its own `ctx.waitUntil` (or the call
 * that finds it full sends it at once, in its own), so a later call hands over a string and
 * awaits nothing of another call's. A failed send is logged: what a call recorded is never the
 * visitor's to wait for. Answers false, sending nothing, when the worker has no such binding.
 */
export function enqueue(env, ctx, binding, text, bytes) {
  const queue = env[binding];
  if (queue == null || typeof queue.send !== 'function') return false;
  let batch = filling.get(binding);
  if (
    batch &&
    (batch.queue !== queue ||
      batch.calls.length >= BATCH_CALLS ||
      batch.bytes + bytes + 1 > BATCH_BYTES)
  ) {
    ctx.waitUntil(flush(binding, batch));
    batch = undefined;
  }
  if (!batch) {
    const opened = { queue, calls: [], bytes: 2, sent: false };
    filling.set(binding, opened);
    ctx.waitUntil(new Promise((resolve) => setTimeout(resolve, BATCH_WAIT_MS)).then(() => flush(binding, opened)));
    batch = opened;
  }
  batch.calls.push(text);
  batch.bytes += bytes + 1;
  return true;
}

/** Sends `batch` as one message unless it went already; resolves either way, a failure logged. */
function flush(binding, batch) {
  if (batch.sent) return Promise.resolve();
  batch.sent = true;
  if (filling.get(binding) === batch) filling.delete(binding);
  let sent;
  try {
    sent = batch.queue.send(`[${batch.calls.join(',')}]`, { contentType: 'text' });
  } catch (error) {
    sent = Promise.reject(error);
  }
  return Promise.resolve(sent).catch((error) =>
    console.error(`enqueueing ${batch.calls.length} calls' events failed: ${error}`),
  );
}
