// The console's engine as the browser runs it: the wasm-bindgen build of crates/engine-wasm
// (scripts/build-engine-wasm.sh, dist/engine-wasm/), loaded in Node 22 and held to what
// `intentctl` says about the same inputs.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DIST = join(ROOT, 'dist/engine-wasm');
const read = (p) => readFileSync(join(ROOT, p), 'utf8');

let engine;

/** `intentctl` as a marketer runs it; resolves to stdout (or the error's output). */
function intentctl(args) {
  try {
    return { code: 0, stdout: execFileSync('cargo', ['run', '-q', '-p', 'intentctl', '--', ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    return { code: err.status, stdout: err.stdout, stderr: err.stderr };
  }
}

before(async () => {
  const glue = join(DIST, 'intent_engine_wasm.js');
  if (!existsSync(glue)) throw new Error(`${glue} is missing: run scripts/build-engine-wasm.sh first`);
  engine = await import(glue);
  engine.initSync({ module: readFileSync(join(DIST, 'intent_engine_wasm_bg.wasm')) });
});

const ms = (iso) => Date.parse(iso);

test('validate gives the line and field intentctl validate gives', () => {
  for (const file of ['examples/rules/broken-window.json', 'examples/rules/broken-group.json']) {
    const v = JSON.parse(engine.validate(read(file)));
    const cli = intentctl(['validate', file]);
    assert.equal(cli.code, 1);
    assert.equal(v.ok, false);
    assert.equal(`${file}: ${v.message}`, cli.stderr.trim());
    assert.match(v.message, new RegExp(`^line ${v.line}, \`${v.field.replace(/[[\]().]/g, '\\$&')}\`: `));
  }
  const ok = JSON.parse(engine.validate(read('examples/rules/campaigns.json')));
  assert.equal(ok.ok, true);
  assert.match(intentctl(['validate', 'examples/rules/campaigns.json']).stdout, new RegExp(`rules ${ok.id.replace('@', '@')}`));
  // Broken JSON, as it is while a marketer types.
  const typing = JSON.parse(engine.validate('{"version": 1, "tiers": ['));
  assert.equal(typing.ok, false);
  assert.equal(typeof typing.line, 'number');
});

test('the schema and the defaults are the CLI\'s', () => {
  assert.deepEqual(JSON.parse(engine.schema()), JSON.parse(intentctl(['schema']).stdout));
  assert.equal(engine.defaults(), read('crates/engine/src/default_rules.json'));
});

test('a log is read once; a bad line is named', () => {
  const log = new engine.Log(read('examples/events/acme-november.jsonl'));
  assert.equal(log.visitors, 12);
  assert.equal(log.events, 31);
  assert.equal(log.latest, ms('2026-12-01T08:00:00Z'));
  assert.throws(() => new engine.Log('{"visitor":"v","ts":"soon","type":"pageview","url":"/"}\n'), /line 1: `ts`/);
  const empty = new engine.Log('');
  assert.equal(empty.latest, undefined);
});

test('simulate and explain agree with intentctl', () => {
  const at = '2026-11-30T12:00:00Z';
  const log = new engine.Log(read('examples/events/acme-november.jsonl'));
  const sim = JSON.parse(engine.simulate(engine.defaults(), log, ms(at)));
  const cli = intentctl(['simulate', '--events', 'examples/events/acme-november.jsonl', '--at', at]);
  const lines = cli.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(sim.visitors, lines);
  assert.equal(sim.tiers.ready, 4);
  const ex = JSON.parse(engine.explain(engine.defaults(), log, 'v-returning', ms(at)));
  const cliEx = intentctl(['explain', '--visitor', 'v-returning', '--events', 'examples/events/acme-november.jsonl', '--at', at]);
  assert.equal(`Visitor v-returning (3 events)\n${ex.text}`, cliEx.stdout);
  assert.throws(() => engine.explain(engine.defaults(), log, 'nobody', ms(at)), /no events for visitor `nobody`/);
});

test('the audit is intentctl audit\'s', () => {
  const log = new engine.Log(read('examples/events/acme-november.jsonl'));
  const a = JSON.parse(engine.audit(engine.defaults(), log, ms('2026-10-31T12:00:00Z'), ms('2026-11-30T12:00:00Z'), ms('2026-11-01T00:00:00Z')));
  assert.equal(a.text, read('crates/intentctl/tests/data/audit/acme-november.txt'));
  assert.deepEqual(a.report, JSON.parse(read('crates/intentctl/tests/data/audit/acme-november.json')));
  assert.throws(() => engine.audit(engine.defaults(), log, ms('2026-12-01T00:00:00Z'), ms('2026-11-01T00:00:00Z')), /starts after it ends/);
});

test('the preview moves the pricing visitor out of ready when ready needs four pricing views', () => {
  // The example log and one visitor who viewed pricing three times in one visit.
  const fan = [0, 5, 10].map((m) => JSON.stringify({ visitor: 'v-one-sitting', ts: `2026-11-28T10:${String(m).padStart(2, '0')}:00Z`, type: 'pageview', url: 'https://acme.test/pricing' }));
  const log = new engine.Log(`${read('examples/events/acme-november.jsonl')}${fan.join('\n')}\n`);
  const published = engine.defaults();
  const edited = published.replace('"at_least": 3, "within": "14d" } },\n          { "viewed": { "group": "demo"', '"at_least": 4, "within": "14d" } },\n          { "viewed": { "group": "demo"');
  assert.notEqual(edited, published);
  const p = JSON.parse(engine.preview(published, edited, log, ms('2026-11-30T12:00:00Z')));
  assert.equal(p.visitors, 13);
  const ready = p.audiences.find((a) => a.name === 'ready');
  assert.deepEqual([ready.before, ready.after], [5, 4]);
  assert.deepEqual(p.moves, [{ visitor: 'v-one-sitting', from: 'ready', to: 'evaluating' }]);
  // Unchanged rules move no one.
  const same = JSON.parse(engine.preview(published, published, log, ms('2026-11-30T12:00:00Z')));
  assert.equal(same.moved, 0);
  assert.throws(() => engine.preview(published, read('examples/rules/broken-window.json'), log, 0), /the edited rules: line 21/);
});

test('the preview counts a generated month as the audit does', () => {
  const month = intentctl(['sample-traffic', '--visitors', '400', '--seed', '3']).stdout;
  const log = new engine.Log(month);
  const at = log.latest;
  const p = JSON.parse(engine.preview(engine.defaults(), engine.defaults(), log, at));
  const a = JSON.parse(engine.audit(engine.defaults(), log, at - 30 * 86_400_000, at, undefined)).report;
  // Every visitor of a 30-day sample is in the audit's period; members at its end are the
  // preview's members at the same moment.
  assert.equal(p.visitors, a.visitors);
  for (const aud of a.audiences) {
    const match = p.audiences.find((x) => x.name === aud.name && x.kind === aud.kind);
    assert.equal(match.after, aud.members, aud.name);
  }
});
