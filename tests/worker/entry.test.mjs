// The worker's entry (worker/main.js, worker/js/entry.js): requests reach the Rust worker without
// worker-build's per-request proxies, and a wasm instance that traps is still made again.
//
// The handlers are driven first with a stand-in for worker-build's class that keeps its contract
// (its constructor makes the wasm instance again when the shared state says it trapped), then
// in workerd with the real build, through tests/worker/entry-probe.mjs: that the state the
// handlers mark is the very object worker-build's constructor reads and resets.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { entry } from '../../worker/js/entry.js';
import { startWorker } from './harness.mjs';

/**
 * A stand-in for worker-build's class: `answer(request, env, ctx)` is what its `fetch` does.
 * Its constructor, like the proxy around the real one, makes the instance again when `state`
 * says it trapped. Counts constructions and instances made again.
 */
function standIn(state, answer) {
  const seen = { constructed: 0, remade: 0, queue: [], scheduled: [] };
  class Rust {
    constructor(ctx, env) {
      seen.constructed++;
      if (state?.criticalError) {
        seen.remade++;
        state.criticalError = false;
        state.instanceId++;
      }
      this.ctx = ctx;
      this.env = env;
    }
    queue(batch) {
      seen.queue.push([batch, this.env, this.ctx]);
      return 'queued';
    }
    scheduled(event) {
      seen.scheduled.push([event, this.env, this.ctx]);
      return 'scheduled';
    }
  }
  Rust.prototype.fetch = function fetch(request) {
    return answer(request, this.env, this.ctx);
  };
  return { Rust, seen };
}

const trap = () => new WebAssembly.RuntimeError('unreachable');

describe('the entry with a stand-in for the build', () => {
  test('a request calls fetch with the environment and the context, constructing nothing', () => {
    const state = { criticalError: false, instanceId: 0 };
    const { Rust, seen } = standIn(state, (request, env, ctx) => ({ request, env, ctx }));
    const handlers = entry(Rust, state);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual(handlers.fetch(`req${i}`, 'env', 'ctx'), { request: `req${i}`, env: 'env', ctx: 'ctx' });
    }
    assert.equal(seen.constructed, 0);
  });

  test('a trap marks the instance, the next request makes it again, and the one after is direct', () => {
    const state = { criticalError: false, instanceId: 0 };
    let fail = true;
    const { Rust, seen } = standIn(state, () => {
      if (fail) throw trap();
      return 'ok';
    });
    const handlers = entry(Rust, state);
    assert.throws(() => handlers.fetch('r', 'env', 'ctx'), WebAssembly.RuntimeError);
    assert.equal(state.criticalError, true);
    fail = false;
    assert.equal(handlers.fetch('r', 'env', 'ctx'), 'ok');
    assert.deepEqual([seen.constructed, seen.remade, state.instanceId, state.criticalError], [1, 1, 1, false]);
    assert.equal(handlers.fetch('r', 'env', 'ctx'), 'ok');
    assert.equal(seen.constructed, 1);
  });

  test('a trap after the body was read (a rejected answer) marks the instance too', async () => {
    const state = { criticalError: false, instanceId: 0 };
    let fail = true;
    const { Rust, seen } = standIn(state, () => (fail ? Promise.reject(trap()) : Promise.resolve('ok')));
    const handlers = entry(Rust, state);
    await assert.rejects(handlers.fetch('r', 'env', 'ctx'), WebAssembly.RuntimeError);
    assert.equal(state.criticalError, true);
    fail = false;
    assert.equal(await handlers.fetch('r', 'env', 'ctx'), 'ok');
    assert.deepEqual([seen.remade, state.instanceId], [1, 1]);
  });

  test('an error that is not a trap passes through and marks nothing', async () => {
    const state = { criticalError: false, instanceId: 0 };
    const { Rust, seen } = standIn(state, (request) => {
      if (request === 'sync') throw new TypeError('not a request');
      return Promise.reject(new TypeError('refused'));
    });
    const handlers = entry(Rust, state);
    assert.throws(() => handlers.fetch('sync', 'env', 'ctx'), TypeError);
    await assert.rejects(handlers.fetch('async', 'env', 'ctx'), TypeError);
    assert.equal(state.criticalError, false);
    handlers.fetch('sync2', 'env', 'ctx').catch(() => {});
    assert.equal(seen.constructed, 0);
  });

  test('without worker-build state every request goes through the constructor', () => {
    for (const state of [undefined, null, {}, { criticalError: 'no' }]) {
      const { Rust, seen } = standIn(null, () => 'ok');
      const handlers = entry(Rust, state);
      assert.equal(handlers.fetch('r', 'env', 'ctx'), 'ok');
      assert.equal(handlers.fetch('r', 'env', 'ctx'), 'ok');
      assert.equal(seen.constructed, 2, `state ${JSON.stringify(state)}`);
    }
  });

  test('the queue and the cron trigger go through the constructor', () => {
    const state = { criticalError: false, instanceId: 0 };
    const { Rust, seen } = standIn(state, () => 'ok');
    const handlers = entry(Rust, state);
    assert.equal(handlers.queue('batch', 'env', 'ctx'), 'queued');
    assert.equal(handlers.scheduled('event', 'env2', 'ctx2'), 'scheduled');
    assert.deepEqual(seen.queue, [['batch', 'env', 'ctx']]);
    assert.deepEqual(seen.scheduled, [['event', 'env2', 'ctx2']]);
    assert.equal(seen.constructed, 2);
  });
});

describe('the entry in workerd with the real build', () => {
  let worker;
  before(async () => {
    worker = await startWorker({ main: 'tests/worker/entry-probe.mjs', withoutQueues: true });
  });
  after(async () => {
    await worker?.stop();
  });

  const state = async () => (await fetch(`${worker.url}/__test/state`)).json();
  const health = async () => {
    const r = await fetch(`${worker.url}/v1/health`);
    assert.equal(r.status, 200);
    return r.json();
  };

  test("a trap marked in worker-build's state makes the wasm instance again, and requests go on", async () => {
    await health();
    const start = await state();
    assert.equal(start.criticalError, false);
    assert.equal(typeof start.instanceId, 'number');
    const marked = await (await fetch(`${worker.url}/__test/trapped`, { method: 'POST' })).json();
    assert.equal(marked.criticalError, true);
    // The next request goes through worker-build's constructor, which makes the instance again
    // (and counts it in `instanceId`, as the new instance's start does too).
    await health();
    const after = await state();
    assert.equal(after.criticalError, false);
    assert.ok(after.instanceId > start.instanceId, `instanceId ${start.instanceId} -> ${after.instanceId}`);
    const collect = await fetch(`${worker.url}/v1/collect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ site: 'demo', events: [{ type: 'pageview', url: 'https://demo.test/pricing' }] }),
    });
    assert.equal(collect.status, 200, await collect.text());
    assert.deepEqual(await state(), after);
  });
});
