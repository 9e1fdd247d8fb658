// The producer's batching (worker/js/http.js `enqueue`), on its own with a fake queue and fake
// contexts: the calls of one isolate within 20 ms share one queue message (a JSON array of the
// calls' texts), sent by the call that opened it in its own `waitUntil`; a full message (100
// calls, or 60,000 bytes) goes at once from the call that found it full; nothing is sent twice
// or lost, in order; a failed send is logged and the next message goes; no binding, no message.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { enqueue } from '../../worker/js/http.js';

/** A queue binding that records each message sent (as the calls it holds), failing the sends `fail(n)` says. */
function fakeQueue(fail = () => false) {
  const messages = [];
  return {
    messages,
    async send(body, options) {
      assert.deepEqual(options, { contentType: 'text' });
      if (fail(messages.length + 1)) {
        messages.push(null);
        throw new Error('queue unavailable');
      }
      messages.push(JSON.parse(body));
    },
  };
}

/** A request's context: what it hands to `waitUntil`. */
function fakeCtx() {
  const held = [];
  return { held, waitUntil: (p) => held.push(p), settled: () => Promise.all(held) };
}

/** A call's text (a JSON object, as the worker makes them) and its length in UTF-8. */
const call = (i, pad = '') => {
  const text = JSON.stringify({ call: i, pad });
  return [text, Buffer.byteLength(text)];
};

describe('enqueue: the isolate packs its calls into one message', () => {
  test('concurrent calls share one message, sent by the call that opened it', async () => {
    const queue = fakeQueue();
    const env = { EVENTS: queue };
    const ctxs = Array.from({ length: 5 }, fakeCtx);
    ctxs.forEach((ctx, i) => assert.equal(enqueue(env, ctx, 'EVENTS', ...call(i)), true));
    assert.deepEqual(ctxs.map((c) => c.held.length), [1, 0, 0, 0, 0], 'only the first call waits');
    assert.deepEqual(queue.messages, [], 'nothing sent before the window ends');
    await ctxs[0].settled();
    assert.deepEqual(queue.messages, [[0, 1, 2, 3, 4].map((i) => ({ call: i, pad: '' }))]);
  });

  test('a full message goes at once from the call that found it full; the opener then sends nothing', async () => {
    const queue = fakeQueue();
    const env = { EVENTS: queue };
    const ctxs = Array.from({ length: 250 }, fakeCtx);
    ctxs.forEach((ctx, i) => enqueue(env, ctx, 'EVENTS', ...call(i)));
    await Promise.all(ctxs.map((c) => c.settled()));
    assert.deepEqual(queue.messages.map((m) => m.length), [100, 100, 50]);
    assert.deepEqual(queue.messages.flat().map((c) => c.call), ctxs.map((_, i) => i), 'every call once, in order');
  });

  test('a message holds at most 60,000 bytes of UTF-8, however many UTF-16 units', async () => {
    const queue = fakeQueue();
    const env = { EVENTS: queue };
    // 10,000 three-byte characters: 30,000 bytes but 10,000 UTF-16 units.
    const ctxs = Array.from({ length: 5 }, fakeCtx);
    ctxs.forEach((ctx, i) => enqueue(env, ctx, 'EVENTS', ...call(i, '€'.repeat(10_000))));
    await Promise.all(ctxs.map((c) => c.settled()));
    assert.deepEqual(queue.messages.map((m) => m.length), [1, 1, 1, 1, 1]);
    const sent = queue.messages.map((m) => Buffer.byteLength(JSON.stringify(m)));
    assert.ok(sent.every((b) => b <= 60_000), `${sent}`);
    // Smaller calls share: two of 20,000 bytes fit, a third does not.
    const small = fakeQueue();
    const more = Array.from({ length: 3 }, fakeCtx);
    more.forEach((ctx, i) => enqueue({ EVENTS: small }, ctx, 'EVENTS', ...call(i, 'x'.repeat(20_000))));
    await Promise.all(more.map((c) => c.settled()));
    assert.deepEqual(small.messages.map((m) => m.length), [2, 1]);
  });

  test('a failed send is logged, and the next message goes', async (t) => {
    const queue = fakeQueue((n) => n === 1);
    const env = { EVENTS: queue };
    const logged = t.mock.method(console, 'error', () => {});
    const first = fakeCtx();
    enqueue(env, first, 'EVENTS', ...call('lost'));
    await first.settled();
    assert.equal(logged.mock.calls.length, 1);
    assert.match(String(logged.mock.calls[0].arguments[0]), /enqueueing 1 calls' events failed: Error: queue unavailable/);
    const second = fakeCtx();
    enqueue(env, second, 'EVENTS', ...call('kept'));
    await second.settled();
    assert.deepEqual(queue.messages, [null, [{ call: 'kept', pad: '' }]]);
  });

  test('each binding has its own message; no binding, nothing', async () => {
    const events = fakeQueue();
    const other = fakeQueue();
    const env = { EVENTS: events, OTHER: other };
    const ctx = fakeCtx();
    enqueue(env, ctx, 'EVENTS', ...call('a'));
    enqueue(env, ctx, 'OTHER', ...call('b'));
    assert.equal(enqueue({}, ctx, 'EVENTS', ...call('c')), false);
    await ctx.settled();
    assert.deepEqual([events.messages, other.messages], [[[{ call: 'a', pad: '' }]], [[{ call: 'b', pad: '' }]]]);
  });
});
