// Small DOM helpers: screens and sections are <template>s in index.html, cloned here, and
// filled through data-slot attributes with textContent only (never innerHTML), so user data
// such as a username can not inject markup.

/** A deep copy of the first element of <template id="…">. */
export function cloneTemplate(id) {
  const template = document.getElementById(id);
  if (!(template instanceof HTMLTemplateElement)) throw new Error(`missing template #${id}`);
  const element = template.content.firstElementChild;
  return /** @type {HTMLElement} */ (element.cloneNode(true));
}

/** The element marked data-slot="name" inside root (root itself excluded). */
export function slot(root, name) {
  return root.querySelector(`[data-slot="${name}"]`);
}
