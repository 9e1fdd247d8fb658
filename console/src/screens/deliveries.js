// Deliveries: trigger notifications to the destinations, their status and attempts, the
// destinations a `410` disabled, and retry — as `GET /v1/admin/deliveries?status=` and
// `POST /v1/admin/deliveries/<id>/retry` answer them.

import { useState } from 'preact/hooks';
import { call, getJson, describe } from '../api.js';
import { html, LoadState, Notice, when, useLoad } from '../ui.js';

/** The statuses the API lists, and `all` (no filter). */
const STATUSES = ['dead', 'failed', 'pending', 'delivered', 'skipped', 'all'];
/** The ones the API retries. */
const RETRIED = new Set(['dead', 'failed']);

export function Deliveries() {
  const [status, setStatus] = useState('dead');
  const load = useLoad(
    () => getJson(status === 'all' ? '/v1/admin/deliveries' : `/v1/admin/deliveries?status=${status}`),
    status,
  );
  const [note, setNote] = useState();
  const [busy, setBusy] = useState();
  async function retry(id) {
    setNote(undefined);
    setBusy(id);
    try {
      const d = await (await call(`/v1/admin/deliveries/${encodeURIComponent(id)}/retry`, { method: 'POST' })).json();
      setNote({ kind: 'good', text: `Delivery ${d.id} to ${d.destination} is ${d.status} again, next attempt ${when(d.next_attempt_at)}.` });
      load.reload();
    } catch (err) {
      setNote({ kind: 'error', text: describe(err) });
    } finally {
      setBusy(undefined);
    }
  }
  const d = load.data;
  const disabled = Object.entries(d?.disabled ?? {});
  return html`<div>
    <div class="pane-head"><h1>Deliveries</h1>
      <div class="tabs" role="group" aria-label="Status">
        ${STATUSES.map((s) => html`<button aria-pressed=${s === status} onClick=${() => setStatus(s)}>${s}</button>`)}
        <button class="small" onClick=${() => load.reload()} disabled=${load.loading}>Refresh</button>
      </div>
    </div>
    ${note && html`<${Notice} kind=${note.kind}>${note.text}<//>`}
    ${disabled.length > 0 && html`<${Notice} kind="error" title="Disabled destinations">
      <ul class="disabled">${disabled.map(([name, why]) => html`<li data-destination=${name}><strong>${name}</strong>: ${why}</li>`)}</ul>
      Retrying one of a destination's deliveries enables it again.
    <//>`}
    <${LoadState} load=${load} what="deliveries" rows=${5} />
    ${d && html`<div class="scroll"><table class="deliveries">
      <thead><tr><th scope="col">Created</th><th scope="col">Event</th><th scope="col">Visitor</th><th scope="col">Destination</th><th scope="col">Status</th><th scope="col" class="n">Attempts</th><th scope="col" class="n">Last answer</th><th scope="col">Next attempt</th><th scope="col">Error</th><th scope="col"></th></tr></thead>
      <tbody>${d.deliveries.length === 0 ? html`<tr><td colspan="10" class="muted">No ${status === 'all' ? '' : `${status} `}deliveries.</td></tr>` : d.deliveries.map((x) => html`<tr data-delivery=${x.id} data-status=${x.status}>
        <td>${when(x.created_at)}</td><td>${x.event}</td>
        <td>${x.visitor ? html`<a href=${`#/visitors/${encodeURIComponent(x.visitor)}`}><code>${x.visitor}</code></a>` : html`<span class="muted">the site (weekly audit)</span>`}</td>
        <td>${x.destination} <span class="muted">${x.type}</span>${d.disabled?.[x.destination] !== undefined ? html` <span class="badge">disabled</span>` : ''}</td>
        <td class="status">${x.status}</td>
        <td class="n attempts">${x.attempts}</td><td class="n">${x.last_status ?? '—'}</td><td>${when(x.next_attempt_at)}</td>
        <td class="muted">${x.error ?? ''}</td>
        <td>${RETRIED.has(x.status) && html`<button class="small" disabled=${busy === x.id} onClick=${() => retry(x.id)}>Retry</button>`}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </div>`;
}
