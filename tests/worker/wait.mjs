// Waiting for a condition, with a deadline, instead of sleeping a fixed time: a fixed sleep is
// too short on a loaded machine and wasted on an idle one.

/**
 * Polls `predicate` (sync or async) every `everyMs` until it returns something truthy, and
 * resolves to that value; fails naming `what` after `timeoutMs`.
 */
export async function until(predicate, what, timeoutMs = 10_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Waits until `read()` (a length, a count) has not changed for `quietMs`, and resolves to its
 * value: the way to wait for "nothing more is coming", which no positive condition can say.
 * Fails after `timeoutMs` if it never settles.
 */
export async function quiet(read, what, quietMs = 700, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let last = await read();
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const now = await read();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return now;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} to settle`);
  }
}
