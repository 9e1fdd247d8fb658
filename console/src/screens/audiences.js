// Audiences: every tier and segment with its members (the audience store's API), one
// audience's members page by page, and its CSV.

import { useState } from 'preact/hooks';
import { call, getJson, describe } from '../api.js';
import { html, LoadState, Notice, num, when, useLoad } from '../ui.js';

export function Audiences() {
  const load = useLoad(() => getJson('/v1/admin/audiences'), 'all');
  const a = load.data;
  return html`<div>
    <h1>Audiences</h1>
    <${LoadState} load=${load} what="audience store" />
    ${a && html`<p class="muted">As of ${when(a.as_of)}.</p>
    <table class="audiences">
      <thead><tr><th scope="col">Audience</th><th scope="col">Kind</th><th scope="col" class="n">Members</th></tr></thead>
      <tbody>${a.audiences.map((x) => html`<tr data-audience=${x.name}>
        <th scope="row"><a href=${`#/audiences/${encodeURIComponent(x.name)}`}>${x.name}</a></th><td>${x.kind}</td><td class="n">${num(x.members)}</td>
      </tr>`)}</tbody>
    </table>`}
  </div>`;
}

const PAGE = 50;

export function Audience({ name }) {
  const [cursors, setCursors] = useState([null]);
  const cursor = cursors[cursors.length - 1];
  const load = useLoad(() => {
    const q = new URLSearchParams({ format: 'json', limit: String(PAGE) });
    if (cursor) q.set('cursor', cursor);
    return getJson(`/v1/admin/audiences/${encodeURIComponent(name)}?${q}`);
  }, `${name}|${cursor}`);
  const [csvError, setCsvError] = useState();

  async function downloadCsv() {
    setCsvError(undefined);
    try {
      // A link cannot carry the token: fetch the CSV, then hand the browser a file.
      const blob = await (await call(`/v1/admin/audiences/${encodeURIComponent(name)}?format=csv`)).blob();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = `${name}.csv`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    } catch (err) {
      setCsvError(describe(err));
    }
  }

  const m = load.data;
  return html`<div>
    <p><a href="#/audiences">← Audiences</a></p>
    <div class="pane-head"><h1>${name}</h1><button onClick=${downloadCsv}>Download CSV</button></div>
    ${csvError && html`<${Notice} kind="error" title="No CSV">${csvError}<//>`}
    <${LoadState} load=${load} what=${`members of ${name}`} rows=${8} />
    ${m && html`<div class="scroll"><table class="members">
      <thead><tr><th scope="col">Visitor</th><th scope="col">Email</th><th scope="col">Account</th><th scope="col">Tier</th><th scope="col">Segments</th><th scope="col" class="n">Score</th><th scope="col">Since</th><th scope="col">Last seen</th></tr></thead>
      <tbody>${m.members.length === 0 ? html`<tr><td colspan="8" class="muted">No members.</td></tr>` : m.members.map((v) => html`<tr data-visitor=${v.visitor}>
        <td><a href=${`#/visitors/${encodeURIComponent(v.visitor)}`}><code>${v.visitor}</code></a></td>
        <td>${v.email ?? '—'}</td><td>${v.account ?? '—'}</td><td>${v.tier}</td><td>${(v.segments ?? []).join(', ')}</td>
        <td class="n">${v.score ?? '—'}</td><td>${when(v.since)}</td><td>${when(v.last_seen)}</td>
      </tr>`)}</tbody>
    </table></div>
    <div class="pager">
      <button disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous page</button>
      <span class="muted">Page ${cursors.length}</span>
      <button disabled=${!m.next_cursor} onClick=${() => setCursors([...cursors, m.next_cursor])}>Next page</button>
    </div>`}
  </div>`;
}
