// The rules editor: CodeMirror 6 with JSON, the engine's own check as you type (line and field,
// the same words as `intentctl validate`), completion of keys from the engine's JSON Schema,
// and the changes against the published rules shown in place.

import { EditorView, basicSetup } from 'codemirror';
import { EditorState, Compartment } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { json } from '@codemirror/lang-json';
import { linter, lintGutter } from '@codemirror/lint';
import { syntaxTree } from '@codemirror/language';
import { unifiedMergeView } from '@codemirror/merge';

/** A JSON Schema node with `$ref`s followed, as the alternatives it allows. */
function alternatives(root, schema, seen = 0) {
  if (!schema || typeof schema !== 'object' || seen > 20) return [];
  if (schema.$ref) {
    const name = schema.$ref.replace(/^#\/definitions\//, '');
    return alternatives(root, root.definitions?.[name], seen + 1);
  }
  const out = [];
  for (const k of ['oneOf', 'anyOf', 'allOf']) {
    for (const s of schema[k] ?? []) out.push(...alternatives(root, s, seen + 1));
  }
  if (schema.properties || schema.additionalProperties || schema.items || schema.type) out.push(schema);
  return out;
}

/** The schemas at one step down: a key of an object, or an item of an array. */
function step(root, list, seg) {
  const out = [];
  for (const s of list) {
    if (typeof seg === 'number') {
      if (s.items) out.push(...alternatives(root, s.items));
    } else if (s.properties?.[seg]) {
      out.push(...alternatives(root, s.properties[seg]));
    } else if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      out.push(...alternatives(root, s.additionalProperties));
    }
  }
  return out;
}

/** The keys and array steps from the document's root down to the object node `obj`. */
function pathTo(state, obj) {
  const path = [];
  for (let n = obj.parent; n; n = n.parent) {
    if (n.name === 'Property') {
      const key = n.getChild('PropertyName');
      if (key) path.unshift(JSON.parse(state.sliceDoc(key.from, key.to) || '""'));
    } else if (n.name === 'Array') {
      path.unshift(0);
    }
  }
  return path;
}

/** Completes keys from the schema: the keys the object around the cursor may have. */
function schemaCompletion(getSchema) {
  return (ctx) => {
    const root = getSchema();
    if (!root) return null;
    const node = syntaxTree(ctx.state).resolveInner(ctx.pos, -1);
    let obj;
    let from = ctx.pos;
    if (node.name === 'PropertyName' || (node.name === 'String' && node.parent?.name === 'Object')) {
      obj = node.name === 'PropertyName' ? node.parent?.parent : node.parent;
      from = node.from;
    } else if (node.name === 'Object') {
      obj = node;
    } else if ((node.name === '{' || node.name === ',') && node.parent?.name === 'Object') {
      obj = node.parent;
    } else {
      return null;
    }
    if (!obj) return null;
    let list = alternatives(root, root);
    for (const seg of pathTo(ctx.state, obj)) list = step(root, list, seg);
    const options = new Map();
    for (const s of list) {
      for (const [key, sub] of Object.entries(s.properties ?? {})) {
        if (!options.has(key)) {
          options.set(key, { label: key, type: 'property', info: sub.description, apply: `"${key}": ` });
        }
      }
    }
    if (!options.size) return null;
    return { from, options: [...options.values()], validFor: /^"?\w*$/ };
  };
}

/** Turns the engine's verdict into a diagnostic at its line (and column, when it has one). */
function diagnostics(doc, verdict) {
  if (verdict.ok) return [];
  let from = 0;
  let to = doc.length;
  if (verdict.line && verdict.line <= doc.lines) {
    const line = doc.line(verdict.line);
    from = line.from;
    to = line.to;
    if (verdict.column) {
      from = Math.min(line.from + verdict.column - 1, line.to);
      to = Math.max(from, line.to);
    }
    // Point at the text of the line, not at its indentation.
    const lead = /^\s*/.exec(doc.sliceString(line.from, line.to))[0].length;
    if (!verdict.column) from = line.from + lead;
  }
  return [{ from, to, severity: 'error', message: verdict.message, source: verdict.field || 'rules' }];
}

/**
 * Creates the editor in `parent`. `validate(text)` is the engine's check; `onChange(text,
 * verdict)` hears every checked edit; `schema()` gives the parsed JSON Schema.
 */
export function createEditor(parent, { doc, validate, schema, onChange }) {
  const diff = new Compartment();
  let original = doc;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        json(),
        lintGutter(),
        linter((v) => {
          const text = v.state.doc.toString();
          const verdict = validate(text);
          onChange?.(text, verdict);
          return diagnostics(v.state.doc, verdict);
        }, { delay: 150 }),
        json().language.data.of({ autocomplete: schemaCompletion(schema) }),
        diff.of([]),
        EditorView.contentAttributes.of({ 'aria-label': 'Rules JSON' }),
      ],
    }),
  });
  return {
    view,
    text: () => view.state.doc.toString(),
    /** Replaces the whole text (a reload of the published rules). */
    setText(text) {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
    },
    /** Sets the published text the changes are shown against. */
    setOriginal(text, showing) {
      original = text;
      this.showChanges(showing);
    },
    /** Shows or hides the changes against the published rules, in place. */
    showChanges(on) {
      view.dispatch({
        effects: diff.reconfigure(on ? unifiedMergeView({ original, mergeControls: false, gutter: true }) : []),
      });
    },
  };
}
