// The set-up's QR code, drawn from the server's SVG without ever treating it as markup.
//
// The API sends the QR code as an SVG document (a string). Putting that string in the page with
// innerHTML would let whatever markup it holds act as part of the page; an <img> with a data: or
// blob: URL is refused by the CSP (`default-src 'self'` covers images and the server sends no
// img-src). Nor does it go through DOMParser: Chromium checks a parsed document's inline event
// handlers and styles against the page's CSP (blocked, but reported as violations), and a full
// parser is more than a QR code needs.
//
// So this reads the one shape a QR code has, and nothing else: an optional XML declaration, one
// <svg> holding <rect> and <path> elements without children, each with a short list of
// attributes in double or single quotes whose values are numbers, colours and path commands (no
// entities, no other namespaces). Every element of the result is made here with
// createElementNS and every attribute set with setAttribute after its value was checked.
// Anything else (a script, an event handler, a link, a style, text, a comment, a doctype, a
// foreign or nested element) rejects the whole picture: the caller shows the key to type by hand
// instead.

const SVG_NS = 'http://www.w3.org/2000/svg';

const NUMBER = /^-?\d+(\.\d+)?$/;
const COLOUR = /^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|none|black|white)$/;
/** Path data with absolute and relative move, line, horizontal, vertical and close commands. */
const PATH_DATA = /^[MmLlHhVvZz0-9.,\s-]*$/;
const VIEW_BOX = /^-?\d+(\.\d+)?([\s,]+-?\d+(\.\d+)?){3}$/;

/** The attributes each element may carry, and what their values may be. */
const ALLOWED = {
  svg: {
    xmlns: (v) => v === SVG_NS,
    version: (v) => /^1\.[01]$/.test(v),
    width: (v) => NUMBER.test(v),
    height: (v) => NUMBER.test(v),
    viewBox: (v) => VIEW_BOX.test(v),
    'shape-rendering': (v) => /^(auto|crispEdges|optimizeSpeed|geometricPrecision)$/.test(v),
  },
  rect: {
    x: (v) => NUMBER.test(v),
    y: (v) => NUMBER.test(v),
    width: (v) => NUMBER.test(v),
    height: (v) => NUMBER.test(v),
    fill: (v) => COLOUR.test(v),
  },
  path: {
    d: (v) => PATH_DATA.test(v),
    fill: (v) => COLOUR.test(v),
  },
};

/** Attributes the copy does not keep: the page sizes the picture with CSS. */
const DROPPED = new Set(['xmlns', 'version', 'width', 'height']);

/** At most this many shapes (a QR code is a background and one path, or a rect per module). */
const MAX_SHAPES = 20_000;
const MAX_LENGTH = 1_000_000;

const XML_DECLARATION = /^\s*<\?xml(\s+[a-z]+\s*=\s*("[^"<>?]*"|'[^'<>?]*'))*\s*\?>/y;
/** One tag: `<name attr="v" …>`, `<name … />` or `</name>`; group 1 `/` for an end tag. */
const TAG = /\s*<(\/?)([a-zA-Z]+)((?:\s+[a-zA-Z][a-zA-Z:-]*\s*=\s*(?:"[^"<>&]*"|'[^'<>&]*'))*)\s*(\/?)>/y;
const ATTRIBUTE = /\s+([a-zA-Z][a-zA-Z:-]*)\s*=\s*(?:"([^"<>&]*)"|'([^'<>&]*)')/y;
const TRAILING_SPACE = /\s*$/y;

/** The tags of `markup` in order, or null as soon as something is not a plain tag. */
function tags(markup) {
  XML_DECLARATION.lastIndex = 0;
  let at = XML_DECLARATION.test(markup) ? XML_DECLARATION.lastIndex : 0;
  const found = [];
  while (at < markup.length) {
    TRAILING_SPACE.lastIndex = at;
    if (TRAILING_SPACE.test(markup)) break;
    TAG.lastIndex = at;
    const match = TAG.exec(markup);
    if (!match) return null;
    at = TAG.lastIndex;
    const [, end, name, attributeText, selfClosing] = match;
    if (end && (attributeText || selfClosing)) return null;
    const attributes = [];
    for (let rest = 0; rest < attributeText.length;) {
      ATTRIBUTE.lastIndex = rest;
      const attribute = ATTRIBUTE.exec(attributeText);
      if (!attribute) return null;
      attributes.push([attribute[1], attribute[2] ?? attribute[3]]);
      rest = ATTRIBUTE.lastIndex;
    }
    found.push({ end: Boolean(end), name, attributes, selfClosing: Boolean(selfClosing) });
    if (found.length > 2 * MAX_SHAPES + 2) return null; // each shape may be <x></x>
  }
  return found;
}

/** A new element named `name` with the checked attributes; null when any is not allowed. */
function element(name, attributes) {
  if (!Object.hasOwn(ALLOWED, name)) return null;
  const allowed = ALLOWED[name];
  const made = document.createElementNS(SVG_NS, name);
  const seen = new Set();
  for (const [attribute, value] of attributes) {
    const check = Object.hasOwn(allowed, attribute) ? allowed[attribute] : null;
    if (!check || seen.has(attribute) || !check(value)) return null;
    seen.add(attribute);
    if (!DROPPED.has(attribute)) made.setAttribute(attribute, value);
  }
  return made;
}

/**
 * The QR code in `markup` as a new <svg> element of this page, or null when `markup` is not a
 * plain QR code picture (see above). `label` becomes its accessible name.
 * @param {unknown} markup
 * @param {string} label
 * @returns {SVGSVGElement|null}
 */
export function qrCodeElement(markup, label) {
  if (typeof markup !== 'string' || markup.length > MAX_LENGTH) return null;
  const list = tags(markup);
  if (!list || list.length < 3) return null;
  const first = list[0];
  const last = list[list.length - 1];
  if (first.end || first.selfClosing || first.name !== 'svg') return null;
  if (!last.end || last.name !== 'svg') return null;
  const svg = element('svg', first.attributes);
  if (!svg || !svg.hasAttribute('viewBox')) return null;

  // Between them: shapes, each self-closing or closed right away.
  const inner = list.slice(1, -1);
  for (let i = 0; i < inner.length; i += 1) {
    const tag = inner[i];
    if (tag.end || tag.name === 'svg') return null;
    if (!tag.selfClosing) {
      const close = inner[i + 1];
      if (!close || !close.end || close.name !== tag.name) return null;
      i += 1;
    }
    const shape = element(tag.name, tag.attributes);
    if (!shape) return null;
    svg.append(shape);
  }
  if (svg.childElementCount === 0) return null;

  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  svg.setAttribute('focusable', 'false');
  return svg;
}
