// The producer's batching (worker/js/http.js `enqueue`), on its own with a fake queue and fake
// contexts: calls of one isolate share one `sendBatch`, sent by the call that opened it in its
// own `waitUntil`; a full batch (100 messages, or 64,000 UTF-16 units) goes at once from the
// call that found it full; nothing is sent twice or lost, in order; a failed send is logged and
// the next batch goes; no binding, no batch.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { enqueue } from '../../worker/js/http.js';

/** A queue binding that records each `sendBatch`, failing the ones `fail(n)` says. */
function fakeQueue(fail = () => false) {
  const batches = [];
  return {
    batches,
    async sendBatch(messages) {
      if (fail(batches.length + 1)) {
        batches.push(null);
        throw new Error('queue unavailable');
      }
      batches.push(messages.map((m) => m.body));
    },
  };
}

/** A request's context: what it hands to `waitUntil`. */
function fakeCtx() {
  const held = [];
  return { held, waitUntil: (p) => held.push(p), settled: () => Promise.all(held) };
}

describe('enqueue: the isolate batches its calls\' messages', () => {
  test('concurrent calls share one sendBatch, sent by the call that opened it', async () => {
    const queue = fakeQueue();
    const env = { EVENTS: queue };
    const ctxs = Array.from({ length: 5 }, fakeCtx);
    ctxs.forEach((ctx, i) => assert.equal(enqueue(env, ctx, 'EVENTS', `m${i}`), true));
    assert.deepEqual(ctxs.map((c) => c.held.length), [1, 0, 0, 0, 0], 'only the first call waits');
    assert.deepEqual(queue.batches, [], 'nothing sent before the window ends');
    await ctxs[0].settled();
    assert.deepEqual(queue.batches, [['m0', 'm1', 'm2', 'm3', 'm4']]);
  });

  test('a full batch goes at once from the call that found it full; the opener then sends nothing', async () => {
    const queue = fakeQueue();
    const env = { EVENTS: queue };
    const ctxs = Array.from({ length: 250 }, fakeCtx);
    ctxs.forEach((ctx, i) => enqueue(env, ctx, 'EVENTS', `m${i}`));
    await Promise.all(ctxs.map((c) => c.settled()));
    assert.deepEqual(queue.batches.map((b) => b.length), [100, 100, 50]);
    assert.deepEqual(queue.batches.flat(), ctxs.map((_, i) => `m${i}`), 'every message once, in order');
  });

  test('a batch holds at most 64,000 UTF-16 units', async () => {
    const queue = fakeQueue();
    const env = { EVENTS: queue };
    const big = 'x'.repeat(30_000);
    const ctxs = Array.from({ length: 5 }, fakeCtx);
    ctxs.forEach((ctx) => enqueue(env, ctx, 'EVENTS', big));
    await Promise.all(ctxs.map((c) => c.settled()));
    assert.deepEqual(queue.batches.map((b) => b.length), [2, 2, 1]);
  });

  test('a failed send is logged, and the next batch goes', async (t) => {
    const queue = fakeQueue((n) => n === 1);
    const env = { EVENTS: queue };
    const logged = t.mock.method(console, 'error', () => {});
    const first = fakeCtx();
    enqueue(env, first, 'EVENTS', 'lost');
    await first.settled();
    assert.equal(logged.mock.calls.length, 1);
    assert.match(String(logged.mock.calls[0].arguments[0]), /enqueueing 1 calls' events failed: Error: queue unavailable/);
    const second = fakeCtx();
    enqueue(env, second, 'EVENTS', 'kept');
    await second.settled();
    assert.deepEqual(queue.batches, [null, ['kept']]);
  });

  test('each binding has its own batch; no binding, nothing', async () => {
    const events = fakeQueue();
    const other = fakeQueue();
    const env = { EVENTS: events, OTHER: other };
    const ctx = fakeCtx();
    enqueue(env, ctx, 'EVENTS', 'a');
    enqueue(env, ctx, 'OTHER', 'b');
    assert.equal(enqueue({}, ctx, 'EVENTS', 'c'), false);
    await ctx.settled();
    assert.deepEqual([events.batches, other.batches], [[['a']], [['b']]]);
  });
});
