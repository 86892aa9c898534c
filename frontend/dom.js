// Small DOM helpers: screens and sections are <template>s in index.html, cloned here, and
// filled through data-slot attributes with textContent only (never innerHTML), so user data
// such as a username can not inject markup.

import { buildFields } from './fields.js';

/**
 * A deep copy of the first element of <template id="…">, its field placeholders
 * filled (fields.js).
 */
export function cloneTemplate(id) {
  const template = document.getElementById(id);
  if (!(template instanceof HTMLTemplateElement)) throw new Error(`missing template #${id}`);
  const element = /** @type {HTMLElement} */ (template.content.firstElementChild.cloneNode(true));
  buildFields(element);
  return element;
}

/** The element marked data-slot="name" inside root (root itself excluded). */
export function slot(root, name) {
  return root.querySelector(`[data-slot="${name}"]`);
}
