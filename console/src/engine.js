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

/**
 * The stored recent traffic (`GET /v1/admin/events?since=30d`), read into the engine once.
 * Resolves to `{log, source, text}`; throws the ApiError when the worker has no event log.
 */
let traffic;
export function recentTraffic() {
  traffic ??= (async () => {
    const [e, r] = await Promise.all([engine(), call('/v1/admin/events?since=30d')]);
    const text = await r.text();
    return { log: new e.Log(text), source: 'the last 30 days stored by the worker' };
  })();
  traffic.catch(() => { traffic = undefined; });
  return traffic;
}

/** Uses a log file the marketer chose instead (JSON Lines, as `intentctl simulate` reads). */
export async function trafficFromFile(file) {
  const [e, text] = await Promise.all([engine(), file.text()]);
  const loaded = { log: new e.Log(text), source: `the file ${file.name}` };
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
