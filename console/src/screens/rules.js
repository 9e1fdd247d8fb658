// Rules: the editor checked by the engine as you type, the changes against the published
// rules, the preview of the edit on the stored recent traffic, publish (If-Match) and rollback.

import { useEffect, useRef, useState } from 'preact/hooks';
import { call, describe } from '../api.js';
import { engine, recentTraffic, reloadStoredTraffic, trafficFromFile, periodEnd, loadedTraffic } from '../engine.js';
import { createEditor } from '../editor.js';
import { html, Notice, num, when } from '../ui.js';

/** The published rules: their text, ETag and id. */
async function fetchPublished() {
  const r = await call('/v1/admin/rules');
  return { text: await r.text(), etag: r.headers.get('etag'), id: r.headers.get('x-intent-rules') };
}

/** The publish history, or `null` when this worker keeps none (it answers 404). */
async function fetchHistory() {
  try {
    const j = await (await call('/v1/admin/rules/history')).json();
    return Array.isArray(j) ? j : (j.history ?? j.versions ?? []);
  } catch (err) {
    if (err.notLanded) return null;
    throw err;
  }
}

function Verdict({ verdict, changed }) {
  if (!verdict) return html`<p class="verdict" aria-live="polite">Checking…</p>`;
  if (!verdict.ok) {
    return html`<p class="verdict bad" role="alert" data-field=${verdict.field}>
      <span class="where">line ${verdict.line ?? '?'}${verdict.field ? html`, <code>${verdict.field}</code>` : ''}</span>
      <span class="what">${verdict.reason}</span>
    </p>`;
  }
  return html`<p class="verdict good" aria-live="polite">
    Valid: rules <code>${verdict.id}</code>, ${verdict.tiers.length - 1} tiers + fallback, ${verdict.segments.length} segments${changed ? ' — not published yet' : ' — as published'}.
  </p>`;
}

function PreviewTable({ preview }) {
  const tiers = preview.audiences.filter((a) => a.kind === 'tier');
  const segments = preview.audiences.filter((a) => a.kind === 'segment');
  const row = (a) => {
    const d = a.after - a.before;
    return html`<tr data-audience=${a.name}>
      <th scope="row">${a.name}</th>
      <td class="n">${num(a.before)}</td>
      <td class="n">${num(a.after)}</td>
      <td class=${`n delta ${d > 0 ? 'up' : d < 0 ? 'down' : ''}`}>${d > 0 ? '+' : ''}${d === 0 ? '0' : num(d)}</td>
    </tr>`;
  };
  return html`<table class="preview">
    <caption>Members at ${when(preview.at)}: published rules beside the edited ones (${num(preview.visitors)} visitors, ${num(preview.events)} events)</caption>
    <thead><tr><th scope="col">Audience</th><th scope="col" class="n">Published</th><th scope="col" class="n">Edited</th><th scope="col" class="n">Change</th></tr></thead>
    <tbody>
      ${tiers.map(row)}
      ${segments.length > 0 && html`<tr class="sub"><th colspan="4" scope="rowgroup">Segments</th></tr>`}
      ${segments.map(row)}
    </tbody>
  </table>`;
}

function Moves({ preview }) {
  if (!preview.moved) return html`<p class="moves-none">No visitor would change tier or segments.</p>`;
  return html`<div class="moves">
    <h3>${num(preview.moved)} visitor${preview.moved === 1 ? '' : 's'} would move${preview.moves.length < preview.moved ? ` (first ${preview.moves.length} listed)` : ''}</h3>
    <ul>
      ${preview.moves.map((m) => html`<li data-visitor=${m.visitor}>
        <a href=${`#/visitors/${encodeURIComponent(m.visitor)}`}><code>${m.visitor}</code></a>
        ${m.from !== m.to ? html` <span class="tier">${m.from}</span> → <span class="tier">${m.to}</span>` : ''}
        ${m.joins?.length ? html` joins ${m.joins.join(', ')}` : ''}
        ${m.leaves?.length ? html` leaves ${m.leaves.join(', ')}` : ''}
      </li>`)}
    </ul>
  </div>`;
}

export function Rules() {
  const host = useRef();
  const editor = useRef();
  const [published, setPublished] = useState();
  const [history, setHistory] = useState();
  const [text, setText] = useState();
  const [verdict, setVerdict] = useState();
  const [showChanges, setShowChanges] = useState(true);
  const [traffic, setTraffic] = useState();
  const [trafficError, setTrafficError] = useState();
  const [preview, setPreview] = useState();
  const [message, setMessage] = useState();
  const [busy, setBusy] = useState(false);
  const [loadError, setLoadError] = useState();

  async function loadPublished(intoEditor) {
    const [p, hist] = await Promise.all([fetchPublished(), fetchHistory().catch(() => null)]);
    setPublished(p);
    setHistory(hist);
    if (intoEditor && editor.current) editor.current.setText(p.text);
    editor.current?.setOriginal(p.text, showChanges);
    return p;
  }

  // The editor, once the engine and the published rules are there.
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const [e, p] = await Promise.all([engine(), loadPublished(false)]);
        if (!live) return;
        const schema = JSON.parse(e.schema());
        editor.current = createEditor(host.current, {
          doc: p.text,
          validate: (t) => JSON.parse(e.validate(t)),
          schema: () => schema,
          onChange: (t, v) => { setText(t); setVerdict(v); },
        });
        editor.current.setOriginal(p.text, true);
        setText(p.text);
      } catch (err) {
        if (live) setLoadError(err);
      }
    })();
    // The recent traffic, for the preview.
    const already = loadedTraffic();
    // A file chosen while the stored traffic was still loading wins: the marketer chose it.
    (already ?? recentTraffic()).then((t) => live && setTraffic((cur) => cur ?? t), (err) => live && setTrafficError(err));
    return () => { live = false; editor.current?.view.destroy(); editor.current = undefined; };
  }, []);

  // The preview: rerun when the edit (or the traffic) changes, while the rules are valid.
  useEffect(() => {
    if (!traffic || !published || !verdict?.ok || text === undefined) return undefined;
    const timer = setTimeout(async () => {
      const e = await engine();
      try {
        setPreview({ traffic, text, published: published.text, result: JSON.parse(e.preview(published.text, text, traffic.log, periodEnd(traffic.log))) });
      } catch (err) {
        setPreview({ traffic, text, published: published.text, error: err.message });
      }
    }, 250);
    return () => clearTimeout(timer);
  }, [traffic, published, text, verdict]);

  async function useStored() {
    try {
      setTraffic(await reloadStoredTraffic());
      setTrafficError(undefined);
    } catch (err) {
      setTraffic(undefined);
      setTrafficError(err);
    }
  }

  async function chooseFile(ev) {
    const file = ev.target.files?.[0];
    if (!file) return;
    try {
      setTraffic(await trafficFromFile(file));
      setTrafficError(undefined);
    } catch (err) {
      setTrafficError(err);
    }
  }

  async function publish() {
    setBusy(true);
    setMessage(undefined);
    try {
      const headers = { 'content-type': 'application/json' };
      if (published?.etag) headers['if-match'] = published.etag;
      const r = await call('/v1/admin/rules', { method: 'PUT', body: editor.current.text(), headers });
      const answer = await r.json();
      const extra = Object.entries(answer).filter(([k]) => !['id', 'previous', 'stored'].includes(k));
      setMessage({ kind: 'good', title: `Published ${answer.id}`, lines: extra.map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`) });
      await loadPublished(false);
    } catch (err) {
      const stale = err.status === 412;
      setMessage({ kind: 'error', title: stale ? 'Someone published meanwhile' : 'Not published', lines: [stale ? 'The published rules changed since this page loaded them. Reload them, check the changes against yours, then publish again.' : describe(err)], reload: stale });
    } finally {
      setBusy(false);
    }
  }

  async function rollback(id) {
    setBusy(true);
    setMessage(undefined);
    try {
      const headers = {};
      if (published?.etag) headers['if-match'] = published.etag;
      let body;
      if (id) { body = JSON.stringify({ to: id }); headers['content-type'] = 'application/json'; }
      const answer = await (await call('/v1/admin/rules/rollback', { method: 'POST', body, headers })).json();
      setMessage({ kind: 'good', title: `Rolled back: ${answer.id} is live again`, lines: answer.previous ? [`It replaced ${answer.previous}.`] : [] });
      await loadPublished(true);
    } catch (err) {
      setMessage({ kind: 'error', title: 'Not rolled back', lines: [describe(err)], reload: err.status === 412 });
    } finally {
      setBusy(false);
    }
  }

  if (loadError) return html`<${Notice} kind="error" title="Could not load the rules">${describe(loadError)}<//>`;
  const changed = published && text !== undefined && text !== published.text;
  const canPublish = !busy && verdict?.ok && changed;
  // Only the preview of the text, published rules and traffic now there is shown: never an
  // earlier edit's, nor the stored traffic's once a file replaced it.
  const shown = preview && preview.traffic === traffic && preview.text === text && preview.published === published?.text ? preview : undefined;
  return html`<div class="rules">
    <section class="editor-pane" aria-labelledby="rules-h">
      <div class="pane-head">
        <h1 id="rules-h">Rules</h1>
        <span class="live">Live: <code>${published?.id ?? '…'}</code></span>
      </div>
      <${Verdict} verdict=${verdict} changed=${changed} />
      <div class="toolbar">
        <label><input type="checkbox" checked=${showChanges} onChange=${(e) => { setShowChanges(e.target.checked); editor.current?.showChanges(e.target.checked); }} /> Show changes against the published rules</label>
        <button class="link" disabled=${!changed} onClick=${() => editor.current?.setText(published.text)}>Discard changes</button>
      </div>
      <div class="editor" ref=${host}></div>
    </section>
    <section class="side-pane" aria-labelledby="preview-h">
      <h2 id="preview-h">Preview on real traffic</h2>
      <p class="source">
        ${traffic ? html`Replaying ${traffic.source}: ${num(traffic.log.events)} events of ${num(traffic.log.visitors)} visitors.`
          : trafficError ? html`<span class="warn">${describe(trafficError)}</span> Load a log file (JSON Lines, as <code>intentctl simulate</code> reads) to preview on it.`
          : 'Loading the stored traffic…'}
      </p>
      <div class="toolbar">
        <label class="file">Use a log file <input type="file" accept=".jsonl,.json,.txt,application/x-ndjson" onChange=${chooseFile} /></label>
        ${traffic?.kind === 'file' && html`<button class="link" onClick=${useStored}>Use the stored traffic</button>`}
      </div>
      <div class="preview-box" data-source=${shown ? traffic.kind : undefined}>
        ${!verdict?.ok && verdict ? html`<p class="muted">Fix the rules to preview them.</p>`
          : shown?.error ? html`<${Notice} kind="error" title="Preview failed">${shown.error}<//>`
          : shown?.result ? html`<${PreviewTable} preview=${shown.result} /><${Moves} preview=${shown.result} />`
          : html`<p class="muted">${traffic ? 'Replaying…' : 'No traffic to replay yet.'}</p>`}
      </div>
      <div class="actions">
        <button class="primary" onClick=${publish} disabled=${!canPublish}>${busy ? 'Working…' : 'Publish'}</button>
        ${history === null && html`<button onClick=${() => rollback()} disabled=${busy}>Roll back to the previous version</button>`}
      </div>
      ${message && html`<${Notice} kind=${message.kind} title=${message.title}>
        ${message.lines.map((l) => html`<p>${l}</p>`)}
        ${message.reload && html`<button onClick=${() => loadPublished(true).then(() => setMessage(undefined))}>Reload the published rules</button>`}
      <//>`}
      ${history && html`<div class="history">
        <h2>Published versions</h2>
        ${history.length === 0 && html`<p class="muted">Nothing published through the admin API yet: the first publish keeps the live version here too, to roll back to.</p>`}
        <ol>
          ${history.map((v) => html`<li data-version=${v.id}>
            <code>${v.id}</code> <span class="muted">${v.published_at ? when(v.published_at) : 'before the history was kept'}</span>
            ${v.summary && html`<span class="summary">${typeof v.summary === 'string' ? v.summary : JSON.stringify(v.summary)}</span>`}
            ${!(v.active ?? v.id === published?.id) ? html`<button class="small" disabled=${busy} onClick=${() => rollback(v.id)}>Roll back to this</button>` : html`<span class="badge">live</span>`}
          </li>`)}
        </ol>
      </div>`}
    </section>
  </div>`;
}
