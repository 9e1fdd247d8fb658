// Small shared pieces of the screens: htm bound to Preact, states for loading, empty and error,
// and a hook that loads data once per key.

import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';
import { describe } from './api.js';

export const html = htm.bind(h);

/**
 * Loads `fn()` when `key` changes; `{data, error, loading, reload}`. The previous data stays
 * shown while reloading, so the screen does not jump.
 */
export function useLoad(fn, key) {
  const [state, setState] = useState({ loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, loading: false }),
      (error) => live && setState({ error, loading: false }),
    );
    return () => { live = false; };
  }, [key, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** An error or empty state that says what is missing. */
export function Notice({ kind = 'info', title, children }) {
  return html`<div class=${`notice ${kind}`} role=${kind === 'error' ? 'alert' : 'status'}>
    ${title && html`<strong>${title}</strong>`}
    <div>${children}</div>
  </div>`;
}

/** The state of a load, or nothing when its data is there. */
export function LoadState({ load, what, rows = 3 }) {
  if (load.error) {
    const landed = !load.error.notLanded;
    return html`<${Notice} kind=${landed ? 'error' : 'empty'} title=${landed ? `Could not load ${what}` : `No ${what} on this worker yet`}>
      ${describe(load.error)}
    <//>`;
  }
  if (load.loading && load.data === undefined) {
    return html`<div class="skeleton" aria-busy="true" aria-label=${`Loading ${what}`}>
      ${Array.from({ length: rows }, () => html`<div class="bar"></div>`)}
    </div>`;
  }
  return null;
}

/** A number with thousands separators. */
export const num = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '—');

/** A share as a percentage. */
export const pct = (x) => (typeof x === 'number' ? `${Math.round(x * 100)}%` : '—');

/** A time as the marketer reads it. */
export function when(t) {
  if (!t) return '—';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC');
}
