// What one queue `send` costs under `wrangler dev`, by content type, against `sendBatch`es of 100:
//
//   node bench/js/queue.mjs --out FILE [--n 400] [--rounds 3]
//
// The worker runs behind bench/queue/entry.mjs, whose `POST /__bench/send` sends a collect call's
// message (the size of a returning visitor's, two events) `n` times, each in `ctx.waitUntil`.
// Measured as the handler benchmark measures (bench/js/handler.mjs): CPU time of the workerd
// processes from /proc/<pid>/task/*/schedstat, here of every workerd process below wrangler
// (the worker, the queue's broker and the consumer that acknowledges the messages), taken after
// the consumer has had the batches; per message. `none` is the loop alone.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ROOT, cpuNs, descendants, drive, median } from './drive.mjs';

const argv = process.argv.slice(2);
const opt = (name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const outFile = opt('--out');
const N = Number(opt('--n', '400'));
const ROUNDS = Number(opt('--rounds', '3'));
const TYPES = ['none', 'text', 'bytes', 'json', 'v8', 'batch'];

/** The workerd processes below `pid`. */
const workerds = (pid) => descendants(pid).filter(([, cmd]) => /workerd/.test(cmd) && /serve/.test(cmd)).map(([p]) => p);

async function main() {
  const { startWrangler, testConfig, DEFAULT_RULES } = await import(join(ROOT, 'tests/worker/harness.mjs'));
  const dir = mkdtempSync(join(tmpdir(), 'intent-bench-queue-'));
  const w = await startWrangler({ dir, config: testConfig(dir, { main: 'bench/queue/entry.mjs' }), kv: { rules: DEFAULT_RULES }, logLevel: 'warn' });
  try {
    const pids = workerds(w.pid);
    const message = JSON.stringify({
      bench: true,
      site: 'demo',
      record: {
        visitor: 'q3Xk'.repeat(5) + 'ab',
        at: Math.floor(Date.now() / 1000),
        profile: 'p'.repeat(220),
        events: [
          { id: 'AAAAAAAAAAAAAAAA:0', event: JSON.stringify({ type: 'pageview', url: 'https://demo.test/pricing/' }) },
          { id: 'AAAAAAAAAAAAAAAA:1', event: JSON.stringify({ type: 'engagement', url: 'https://demo.test/pricing/', seconds: 42, scroll: 0.8 }) },
        ],
      },
    });
    const run = async (type) => {
      const before = cpuNs(pids);
      const r = await fetch(`${w.url}/__bench/send?type=${type}&n=${N}`, { method: 'POST', body: message });
      const text = await r.text();
      if (r.status !== 200) throw new Error(`${type}: ${r.status} ${text.slice(0, 300)}`);
      // The consumer's batches (a batch waits up to a second for more messages).
      await new Promise((res) => setTimeout(res, 1500));
      return (cpuNs(pids) - before) / 1000 / N;
    };
    for (const type of TYPES) await run(type);
    const rounds = Object.fromEntries(TYPES.map((t) => [t, []]));
    for (let i = 0; i < ROUNDS; i++) for (const type of TYPES) rounds[type].push(await run(type));
    const result = { n: N, rounds: ROUNDS, message_bytes: Buffer.byteLength(message), load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '), us_per_message: {} };
    for (const type of TYPES) {
      result.us_per_message[type] = { median: Math.round(median(rounds[type])), rounds: rounds[type].map(Math.round) };
      console.log(`  ${type}: ${result.us_per_message[type].median} µs a message (rounds ${result.us_per_message[type].rounds.join(', ')})`);
    }
    writeFileSync(outFile, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await w.stop();
  }
}

drive('queue', outFile, main);
