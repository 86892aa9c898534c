// The SPA words every security event kind the API can send, and no other: the keys of
// EVENT_WORDS (frontend/codes.js) must be exactly the enum of the EventKind schema in
// openapi.yaml (components.schemas.EventKind.enum). No browser and no server: it reads the two
// files. The YAML is read with a small parser for the block-style mappings and lists the
// generated openapi.yaml uses (and flow lists, `[a, b]`), not a general YAML parser.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVENT, EVENT_WORDS, WARNING_EVENTS } from '../../frontend/codes.js';

const OPENAPI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../openapi.yaml');
const ENUM_PATH = ['components', 'schemas', 'EventKind', 'enum'];

const isBlank = (line) => /^\s*(#.*)?$/.test(line);
const indentOf = (line) => line.length - line.trimStart().length;
const unquote = (text) => text.trim().replace(/^(['"])(.*)\1$/, '$2');

/**
 * The list at `keys` (a path of mapping keys) in a YAML document: block style, whose items may
 * stand at the key's own indent (`enum:\n- a`, as serde writes it) or deeper, or a flow list.
 * null when a key on the path is missing.
 */
function yamlList(text, keys) {
  const lines = text.split(/\r?\n/);
  let from = 0;
  let to = lines.length;
  let inline = null;
  for (const key of keys) {
    const first = lines.slice(from, to).findIndex((line) => !isBlank(line));
    if (first < 0) return null;
    const indent = indentOf(lines[from + first]);
    let found = -1;
    for (let i = from + first; i < to; i += 1) {
      if (isBlank(lines[i]) || indentOf(lines[i]) !== indent) continue;
      const entry = lines[i].slice(indent).match(/^(?:"([^"]*)"|'([^']*)'|([^\s:'"-][^:]*?)):(?:\s+(.*))?$/);
      if (entry && (entry[1] ?? entry[2] ?? entry[3]) === key) {
        found = i;
        inline = entry[4] ?? null;
        break;
      }
    }
    if (found < 0) return null;
    // The value's lines: deeper than the key, or list items at the key's own indent.
    let end = found + 1;
    while (end < to && (isBlank(lines[end]) || indentOf(lines[end]) > indent
      || (indentOf(lines[end]) === indent && lines[end].trimStart().startsWith('-')))) end += 1;
    from = found + 1;
    to = end;
  }
  if (inline !== null && inline.startsWith('[')) {
    const body = inline.replace(/^\[|\]\s*(#.*)?$/g, '').trim();
    return body === '' ? [] : body.split(',').map(unquote);
  }
  return lines.slice(from, to)
    .filter((line) => !isBlank(line) && line.trimStart().startsWith('- '))
    .map((line) => unquote(line.trimStart().slice(2).replace(/\s+#.*$/, '')));
}

describe('event kinds: the SPA and openapi.yaml agree', () => {
  it('reads a YAML list in the layouts openapi.yaml may use', () => {
    const doc = [
      'components:',
      '  schemas:',
      '    Other:',
      '      enum:',
      '      - nope',
      '    EventKind:',
      '      type: string',
      '      description: |-',
      '        enum: not this one',
      '      enum:',
      '      - registered',
      "      - 'login'",
      '      - "logout"',
      '    After:',
      '      type: string',
    ].join('\n');
    assert.deepEqual(yamlList(doc, ENUM_PATH), ['registered', 'login', 'logout']);
    assert.deepEqual(yamlList(doc.replace(/^ {6}- /gm, '        - '), ENUM_PATH),
      ['registered', 'login', 'logout'], 'items indented under the key');
    assert.deepEqual(yamlList('components:\n  schemas:\n    EventKind:\n      enum: [a, "b"]\n', ENUM_PATH),
      ['a', 'b'], 'a flow list');
    assert.equal(yamlList('components:\n  schemas:\n    Other: {}\n', ENUM_PATH), null);
  });

  it('has a word for every event kind in frontend/codes.js, and for no other', () => {
    assert.deepEqual(Object.keys(EVENT_WORDS).sort(), Object.values(EVENT).sort());
    for (const [kind, words] of Object.entries(EVENT_WORDS)) {
      assert.ok(typeof words === 'string' && words.trim() !== '', `no words for ${kind}`);
    }
  });

  it('marks known kinds as warnings: failed logins and second steps, a copied passkey', () => {
    for (const kind of WARNING_EVENTS) assert.ok(kind in EVENT_WORDS, `${kind} is a known kind`);
    assert.deepEqual([...WARNING_EVENTS].sort(),
      ['login_failed', 'passkey_counter_regressed', 'second_factor_failed']);
  });

  it('words the two-step verification kinds, and no two kinds alike', () => {
    // The kinds the second factor added (issue #13), each with its own sentence.
    const kinds = ['second_factor_enabled', 'second_factor_disabled', 'second_factor_reset',
      'recovery_codes_regenerated', 'recovery_code_used', 'second_factor_failed'];
    for (const kind of kinds) assert.ok(EVENT_WORDS[kind], `no words for ${kind}`);
    const words = Object.values(EVENT_WORDS);
    assert.equal(new Set(words).size, words.length, 'two kinds share their words');
  });

  it('words exactly the kinds of the EventKind schema in openapi.yaml', async () => {
    const published = yamlList(await readFile(OPENAPI, 'utf8'), ENUM_PATH);
    const worded = Object.keys(EVENT_WORDS);
    if (published === null) {
      assert.fail(`${OPENAPI} has no ${ENUM_PATH.join('.')}: the backend does not publish the `
        + `event kinds yet, so the SPA's kinds (${worded.join(', ')}) cannot be checked against it`);
    }
    const missing = published.filter((kind) => !worded.includes(kind));
    const extra = worded.filter((kind) => !published.includes(kind));
    const problems = [];
    if (missing.length > 0) {
      problems.push(`missing from the SPA (in openapi.yaml's EventKind, no words in frontend/codes.js `
        + `EVENT_WORDS): ${missing.join(', ')}`);
    }
    if (extra.length > 0) {
      problems.push(`extra in the SPA (worded in frontend/codes.js EVENT_WORDS, not in openapi.yaml's `
        + `EventKind): ${extra.join(', ')}`);
    }
    assert.ok(problems.length === 0, problems.join('; '));
    assert.equal(new Set(published).size, published.length, 'EventKind lists a kind twice');
  });
});
