// Deliveries: trigger notifications to the destinations, their status and attempts, and retry.

import { useState } from 'preact/hooks';
import { call, getJson, describe } from '../api.js';
import { html, LoadState, Notice, when, useLoad } from '../ui.js';

const STATUSES = ['dead', 'failed', 'pending', 'delivered'];

export function Deliveries() {
  const [status, setStatus] = useState('dead');
  const load = useLoad(() => getJson(`/v1/admin/deliveries?status=${status}`), status);
  const [note, setNote] = useState();
  async function retry(id) {
    setNote(undefined);
    try {
      await call(`/v1/admin/deliveries/${encodeURIComponent(id)}/retry`, { method: 'POST' });
      setNote({ kind: 'good', text: `Delivery ${id} is queued again.` });
      load.reload();
    } catch (err) {
      setNote({ kind: 'error', text: describe(err) });
    }
  }
  const d = load.data;
  return html`<div>
    <div class="pane-head"><h1>Deliveries</h1>
      <div class="tabs" role="group" aria-label="Status">
        ${STATUSES.map((s) => html`<button aria-pressed=${s === status} onClick=${() => setStatus(s)}>${s}</button>`)}
      </div>
    </div>
    ${note && html`<${Notice} kind=${note.kind}>${note.text}<//>`}
    <${LoadState} load=${load} what="deliveries" rows=${5} />
    ${d && html`<div class="scroll"><table>
      <thead><tr><th scope="col">Event</th><th scope="col">Destination</th><th scope="col">Status</th><th scope="col" class="n">Attempts</th><th scope="col" class="n">Last answer</th><th scope="col">Next attempt</th><th scope="col"></th></tr></thead>
      <tbody>${d.deliveries.length === 0 ? html`<tr><td colspan="7" class="muted">No ${status} deliveries.</td></tr>` : d.deliveries.map((x) => html`<tr data-delivery=${x.id}>
        <td>${x.event}</td><td>${x.destination} <span class="muted">${x.type}</span>${x.disabled ? html` <span class="badge">disabled</span>` : ''}</td><td>${x.status}</td>
        <td class="n">${x.attempts}</td><td class="n">${x.last_status ?? '—'}</td><td>${when(x.next_attempt_at)}</td>
        <td>${(x.status === 'dead' || x.status === 'failed') && html`<button class="small" onClick=${() => retry(x.id)}>Retry</button>`}</td>
      </tr>`)}</tbody>
    </table></div>`}
  </div>`;
}
