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

/** One evaluated condition and its parts, as the engine's explanation gives them. */
function CheckLine({ check }) {
  return html`<li class=${check.held ? 'held' : 'not-held'}>
    <span class="badge">${check.held ? 'true' : 'false'}</span> ${check.text}${check.seen ? html` <span class="muted">(seen: ${check.seen})</span>` : ''}
    ${check.children?.length > 0 && html`<ul>${check.children.map((c) => html`<${CheckLine} check=${c} />`)}</ul>`}
  </li>`;
}

/** The engine's explanation (`{tier, rules, at, visits, tiers, segments}`): each tier and
 * segment, whether it matched, and the conditions that decided it. */
function Explanation({ explanation }) {
  if (!explanation) return html`<p class="muted">No explanation.</p>`;
  if (typeof explanation === 'string' || explanation.text) return html`<pre class="explain">${explanation.text ?? explanation}</pre>`;
  const rule = (r) => html`<li data-rule=${r.name} class=${r.matched ? 'matched' : ''}>
    <strong>${r.name}</strong> ${r.matched ? html`<span class="badge">matched</span>` : r.checked ? html`<span class="muted">not matched</span>` : html`<span class="muted">not checked: a tier above matched</span>`}
    ${r.check ? html`<ul>${html`<${CheckLine} check=${r.check} />`}</ul>` : r.checked && html` <span class="muted">(the fallback)</span>`}
  </li>`;
  return html`<div class="explanation">
    <p><strong>${explanation.tier}</strong> under rules <code>${explanation.rules}</code> at ${when(explanation.at)}, after ${explanation.visits} visit${explanation.visits === 1 ? '' : 's'}${explanation.score !== undefined ? `, score ${explanation.score}` : ''}.</p>
    <h3>Tiers, in order</h3>
    <ol class="checks">${explanation.tiers.map(rule)}</ol>
    ${explanation.segments.length > 0 && html`<h3>Segments</h3><ul class="checks">${explanation.segments.map(rule)}</ul>`}
  </div>`;
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
      <section class="memberships"><h2>Tier and audience history</h2>
        ${memberships.length === 0 ? html`<p class="muted">No memberships recorded.</p>` : html`<table>
          <thead><tr><th scope="col">Audience</th><th scope="col">Entered</th><th scope="col">Left</th></tr></thead>
          <tbody>${memberships.map((m) => html`<tr data-audience=${m.audience ?? m.name}><td>${m.audience ?? m.name}</td><td>${when(m.entered ?? m.since)}</td><td>${when(m.left)}</td></tr>`)}</tbody>
        </table>`}
      </section>
      <section><h2>Why this tier</h2>
        <${Explanation} explanation=${explanation} />
      </section>
      <section class="timeline-box"><h2>Timeline${v.timeline_truncated ? ' (the latest events)' : ''}</h2>
        ${events.length === 0 ? html`<p class="muted">No stored events.</p>` : html`<ol class="timeline">
          ${events.map((e) => html`<li><span class="muted">${when(e.ts)}</span> <strong>${e.type}</strong> ${e.url ?? e.name ?? e.target ?? ''}</li>`)}
        </ol>`}
      </section>`}
  </div>`;
}
