// Form fields from one component: the label, an optional hint, the input (for a password, with
// its Show toggle) and the paragraph for the field's error. index.html writes each field as a
// placeholder that says only what differs,
//
//   <div class="field" data-field-kind="password" data-id="password-new" data-name="new_password"
//        data-label="New password" data-autocomplete="new-password">
//     <p class="hint">At least 8 characters. …</p>
//   </div>
//
// and cloneTemplate() (dom.js) fills every placeholder of a screen or section it clones from
// <template id="tpl-field-{kind}">, before the screen's module sees it. Filled, the field is the
// markup a hand-written one had: the data-* settings are removed, the placeholder's other
// attributes (class, data-field) stay.
//
// Settings (data-*):
//   field-kind       password, username or code: which template (its input's type and fixed
//                    attributes; code is a plain text input for one-time codes)
//   id               the input's id; `${id}-hint` and `${id}-error` are the hint's and error's
//   name             the input's name, also the API's field name in its errors (data-error-for)
//   label            the visible label; a password's toggle is named "Show " + it in lower case
//   autocomplete     for passwords: current-password or new-password (username fields: username);
//                    for codes: one-time-code (authenticator codes) or off (recovery codes)
//   inputmode        optional: the on-screen keyboard (numeric for authenticator codes)
//   describedby-before, describedby-after
//                    optional ids of other elements that describe the input, read before or
//                    after its own hint and error (aria-describedby keeps that order)
// The optional hint is the placeholder's <p class="hint"> child, markup (<kbd>) allowed.
//
// A password's toggle is a <button type="button"> with aria-controls and aria-pressed; a reset of
// the field's form hides the password again.

const SETTINGS = ['fieldKind', 'id', 'name', 'label', 'autocomplete', 'inputmode',
  'describedbyBefore', 'describedbyAfter'];

/** Fills one placeholder (see above) in place. */
export function buildField(field) {
  const settings = { ...field.dataset };
  for (const key of SETTINGS) delete field.dataset[key];
  const { id, name } = settings;
  const template = document.getElementById(`tpl-field-${settings.fieldKind}`);
  if (!(template instanceof HTMLTemplateElement)) throw new Error(`no field kind ${settings.fieldKind}`);

  const parts = template.content.cloneNode(true);
  const label = parts.querySelector('label');
  const input = parts.querySelector('input');
  const error = parts.querySelector('.field-error');
  const hint = field.querySelector(':scope > .hint');

  label.htmlFor = id;
  label.textContent = settings.label;
  if (hint) {
    hint.id = `${id}-hint`;
    label.after(hint);
  }
  input.id = id;
  input.name = name;
  if (settings.autocomplete) input.autocomplete = settings.autocomplete;
  if (settings.inputmode) input.inputMode = settings.inputmode;
  const describedBy = [settings.describedbyBefore, hint?.id, `${id}-error`, settings.describedbyAfter];
  input.setAttribute('aria-describedby', describedBy.filter(Boolean).join(' '));
  error.id = `${id}-error`;
  error.dataset.errorFor = name;

  const toggle = parts.querySelector('button.reveal');
  if (toggle) {
    toggle.setAttribute('aria-controls', id);
    toggle.querySelector('.visually-hidden').textContent = ` ${settings.label.toLowerCase()}`;
    const show = (shown) => {
      input.type = shown ? 'text' : 'password';
      toggle.setAttribute('aria-pressed', String(shown));
    };
    toggle.addEventListener('click', () => show(input.type === 'password'));
    field.closest('form')?.addEventListener('reset', () => show(false));
  }

  field.replaceChildren(parts);
}

/** Fills every field placeholder inside root. */
export function buildFields(root) {
  for (const field of root.querySelectorAll('[data-field-kind]')) buildField(field);
}
