// The engine in the browser (crates/engine-wasm): loaded once, and the recent traffic read
// once into its compact log, shared by the rules preview, the audit and the overview.

import init, * as wasm from '../../dist/engine-wasm/intent_engine_wasm.js';
import { call } from './api.js';

let ready;
/** The engine's functions, once its wasm is compiled (the file sits next to the bundle). */
export function engine() {
  ready ??= init({ module_or_path: new URL('engine.wasm', document.baseURI) }).then(() => wasm);
  return ready;
}

const DAY = 86_400_000;

/** Reads the stored recent traffic (`GET /v1/admin/events?since=30d`) into the engine. */
async function readStored() {
  const [e, r] = await Promise.all([engine(), call('/v1/admin/events?since=30d')]);
  const text = await r.text();
  return { log: new e.Log(text), source: 'the last 30 days stored by the worker', kind: 'stored' };
}

/**
 * The traffic the screens replay: the stored recent traffic, read into the engine once, or the
 * log file chosen instead. Resolves to `{log, source, kind}` (`kind` is `stored` or `file`);
 * throws the ApiError when the worker has no event log.
 */
let traffic;
export function recentTraffic() {
  traffic ??= readStored();
  const mine = traffic;
  mine.catch(() => { if (traffic === mine) traffic = undefined; });
  return traffic;
}

/** Reads the stored traffic again (after a file was used, or to see the latest calls). */
export function reloadStoredTraffic() {
  traffic = undefined;
  return recentTraffic();
}

/** Uses a log file the marketer chose instead (JSON Lines, as `intentctl simulate` reads). */
export async function trafficFromFile(file) {
  const [e, text] = await Promise.all([engine(), file.text()]);
  const loaded = { log: new e.Log(text), source: `the file ${file.name}`, kind: 'file' };
  traffic = Promise.resolve(loaded);
  return loaded;
}

/** The traffic loaded so far, if any, without loading. */
export function loadedTraffic() {
  return traffic;
}

/** The end of a log's period: its latest event, or now. */
export function periodEnd(log) {
  return log.latest ?? Date.now();
}

export { DAY };
