// One visitor: their record from the audience store (timeline of stored events, tier history,
// the explanation of their tier), or, without the store, the explanation the engine gives from
// the stored traffic.

import { call, getJson } from '../api.js';
import { engine, recentTraffic, loadedTraffic, periodEnd } from '../engine.js';
import { html, LoadState, Notice, when, useLoad } from '../ui.js';

/** The explanation from the stored traffic, when the store has no record endpoint. */
async function fromTraffic(id) {
  const [e, traffic, rules] = await Promise.all([engine(), loadedTraffic() ?? recentTraffic(), call('/v1/admin/rules').then((r) => r.text())]);
  return JSON.parse(e.explain(rules, traffic.log, id, periodEnd(traffic.log)));
}

export function Visitor({ id }) {
  const load = useLoad(() => getJson(`/v1/admin/visitors/${encodeURIComponent(id)}`), id);
  const fallback = useLoad(() => (load.error?.notLanded ? fromTraffic(id) : Promise.resolve(null)), `${id}|${Boolean(load.error?.notLanded)}`);
  const v = load.data;
  const events = v?.events ?? v?.timeline ?? [];
  const memberships = v?.memberships ?? [];
  const explanation = v?.explanation;
  return html`<div class="visitor">
    <p><a href="#/audiences">← Audiences</a></p>
    <h1>Visitor <code>${id}</code></h1>
    ${load.error?.notLanded ? html`
      <${LoadState} load=${load} what="visitor records" />
      ${fallback.data && html`<section><h2>Why this tier (from the stored traffic)</h2><pre class="explain">${fallback.data.text}</pre></section>`}
      ${fallback.error && html`<${Notice} kind="empty" title="No explanation">${fallback.error.message ?? String(fallback.error)}<//>`}
    ` : html`<${LoadState} load=${load} what="visitor record" rows=${6} />`}
    ${v && html`
      <dl class="facts">
        <dt>Tier</dt><dd>${v.tier ?? v.visitor?.tier ?? '—'}</dd>
        <dt>Segments</dt><dd>${(v.segments ?? v.visitor?.segments ?? []).join(', ') || '—'}</dd>
        <dt>Email</dt><dd>${v.email ?? v.visitor?.email ?? '—'}</dd>
        <dt>Account</dt><dd>${v.account ?? v.visitor?.account ?? '—'}</dd>
        <dt>First seen</dt><dd>${when(v.first_seen ?? v.visitor?.first_seen)}</dd>
        <dt>Last seen</dt><dd>${when(v.last_seen ?? v.visitor?.last_seen)}</dd>
      </dl>
      <section><h2>Tier and audience history</h2>
        ${memberships.length === 0 ? html`<p class="muted">No memberships recorded.</p>` : html`<table>
          <thead><tr><th scope="col">Audience</th><th scope="col">Entered</th><th scope="col">Left</th></tr></thead>
          <tbody>${memberships.map((m) => html`<tr><td>${m.audience ?? m.name}</td><td>${when(m.entered ?? m.since)}</td><td>${when(m.left)}</td></tr>`)}</tbody>
        </table>`}
      </section>
      <section><h2>Why this tier</h2>
        <pre class="explain">${typeof explanation === 'string' ? explanation : explanation?.text ?? JSON.stringify(explanation, null, 2) ?? '—'}</pre>
      </section>
      <section><h2>Timeline</h2>
        ${events.length === 0 ? html`<p class="muted">No stored events.</p>` : html`<ol class="timeline">
          ${events.map((e) => html`<li><span class="muted">${when(e.ts)}</span> <strong>${e.type}</strong> ${e.url ?? e.name ?? e.target ?? ''}</li>`)}
        </ol>`}
      </section>`}
  </div>`;
}
