// The handlers workerd calls, around the Rust worker that worker-build writes to worker/build/
// (`worker/main.js` wires the two; a test drives this module with a stand-in for the build).
//
// worker-build's default export is a `WorkerEntrypoint` class behind a `Proxy`. workerd
// constructs it for every request, and the proxy wraps the new instance, and each method read
// from it, in new proxies, so that a wasm instance killed by a trap (a `WebAssembly.
// RuntimeError`: the Rust code aborted) is made again before the next call. That is about 1.6 µs
// of every request (measured in workerd; see docs/PERFORMANCE-CHANGES.md), a tenth of a health
// check. The handlers here call the class's `fetch` directly, with the environment and the
// context as its `this`, and keep the recovery: a trap marks the instance as broken in
// worker-build's own state (`globalThis.__worker_init_state`, the object its proxy reads), and
// the next request goes through the class's constructor, which makes the wasm instance again.
// (A trap in the part of a request that runs after its body's read is caught too, which the
// proxy, watching only the first part, does not.)
// The queue and the cron trigger are rare; they go through the constructor every time.

/**
 * The module's default export: `fetch`, `queue` and `scheduled` handlers for `Rust`, the class
 * worker-build exports, whose recovery state is `state` (`{criticalError, instanceId}`). Without
 * that state every request goes through the constructor, as worker-build's own entry does.
 */
export function entry(Rust, state) {
  const rustFetch = Rust.prototype.fetch;
  const direct = state != null && typeof state === 'object' && typeof state.criticalError === 'boolean';
  /** Marks the wasm instance as broken when `error` is a trap; rethrows it. */
  const trapped = (error) => {
    if (error instanceof WebAssembly.RuntimeError) {
      console.error('Critical', error);
      state.criticalError = true;
    }
    throw error;
  };
  return {
    fetch(request, env, ctx) {
      if (!direct || state.criticalError) return new Rust(ctx, env).fetch(request);
      let answer;
      try {
        answer = rustFetch.call({ env, ctx }, request);
      } catch (error) {
        trapped(error);
      }
      // A trap after the body's read (the Rust code runs again then) rejects the promise.
      return answer instanceof Promise ? answer.catch(trapped) : answer;
    },
    queue(batch, env, ctx) {
      return new Rust(ctx, env).queue(batch);
    },
    scheduled(event, env, ctx) {
      return new Rust(ctx, env).scheduled(event);
    },
  };
}
