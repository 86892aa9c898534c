// Form behaviour shared by every screen and dashboard section: one submission at a time with
// a busy button, API errors shown next to their field (matched by the problem's `field`) or in
// the form's alert, aria-invalid kept in step, focus moved to the first error. (The fields
// themselves, password show toggles included, are fields.js.)

import { ApiError, NetworkError, errorMessage } from './api.js';

/**
 * Marks a button busy or not. Busy buttons stay focusable (aria-disabled, not disabled) so a
 * keyboard user's focus is not dropped onto <body> mid-request; clicks are ignored by callers.
 */
export function setButtonBusy(button, busy) {
  if (!button) return;
  if (!button.dataset.idleLabel) button.dataset.idleLabel = button.textContent.trim();
  button.classList.toggle('is-busy', busy);
  if (busy) {
    button.setAttribute('aria-disabled', 'true');
    button.textContent = button.dataset.busyLabel || button.dataset.idleLabel;
  } else {
    button.removeAttribute('aria-disabled');
    button.textContent = button.dataset.idleLabel;
  }
}

export class Form {
  /**
   * @param {HTMLFormElement} form
   * @param {(values: Record<string, string|boolean>, form: Form) => Promise<void>} onSubmit
   *   runs the request; anything it throws is shown with showError().
   * @param {{fieldForCode?: Record<string, string>,
   *          messages?: Record<string, Record<string, string>>}} [options]
   *   fieldForCode: error codes without a field list that still concern one field
   *   (username_taken → username); messages: this form's own wording for a field's error code
   *   ({current_password: {required: 'Enter your current password.'}}), else the API's.
   */
  constructor(form, onSubmit, options = {}) {
    this.form = form;
    this.options = options;
    this.busy = false;
    this.alert = form.querySelector('[data-form-alert]');
    this.submitButton = form.querySelector('button[type="submit"]');
    form.addEventListener('input', (event) => {
      const name = event.target?.name;
      if (name) this.clearFieldError(name);
    });
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      if (this.busy) return; // a second Enter or click while the first request runs
      this.clearErrors();
      this.setBusy(true);
      try {
        await onSubmit(this.values(), this);
      } catch (error) {
        this.showError(error);
      } finally {
        this.setBusy(false);
      }
    });
  }

  values() {
    const values = {};
    for (const element of this.form.elements) {
      if (!element.name) continue;
      values[element.name] = element.type === 'checkbox' ? element.checked : element.value;
    }
    return values;
  }

  input(name) {
    return this.form.elements.namedItem(name);
  }

  setBusy(busy) {
    this.busy = busy;
    this.form.setAttribute('aria-busy', String(busy));
    setButtonBusy(this.submitButton, busy);
  }

  clearErrors() {
    this.setAlert('');
    for (const slot of this.form.querySelectorAll('[data-error-for]')) {
      this.clearFieldError(slot.dataset.errorFor);
    }
  }

  clearFieldError(name) {
    const slot = this.form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    if (slot) slot.textContent = '';
    const input = this.input(name);
    if (input instanceof HTMLElement) input.removeAttribute('aria-invalid');
  }

  /** Shows `message` under the field; returns false when the form has no such field. */
  setFieldError(name, message) {
    const slot = this.form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
    const input = this.input(name);
    if (!slot || !(input instanceof HTMLElement)) return false;
    slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
    input.setAttribute('aria-invalid', 'true');
    return true;
  }

  /** Marks fields invalid without a message of their own (the alert above explains). */
  markInvalid(...names) {
    for (const name of names) this.input(name)?.setAttribute('aria-invalid', 'true');
  }

  setAlert(message) {
    if (this.alert) this.alert.textContent = message;
  }

  /** Shows any error request() throws, then moves focus to the first thing to fix. */
  showError(error) {
    const unplaced = [];
    if (error instanceof ApiError && error.errors.length > 0) {
      for (const fieldError of error.errors) {
        const message = this.options.messages?.[fieldError.field]?.[fieldError.code]
          || fieldError.message || fieldError.code;
        if (!this.setFieldError(fieldError.field, message)) unplaced.push(message);
      }
    } else if (error instanceof ApiError && this.options.fieldForCode?.[error.code]) {
      const field = this.options.fieldForCode[error.code];
      if (!this.setFieldError(field, errorMessage(error))) unplaced.push(errorMessage(error));
    } else {
      // A bug in this page, not an answer from the server: keep it visible to developers.
      if (!(error instanceof ApiError || error instanceof NetworkError)) console.error(error);
      unplaced.push(errorMessage(error));
    }
    this.setAlert(unplaced.join(' '));
    this.focusFirstError();
  }

  focusFirstError() {
    const invalid = this.form.querySelector('[aria-invalid="true"]');
    if (invalid) {
      invalid.focus();
      if (typeof invalid.select === 'function') invalid.select();
    } else if (this.alert?.textContent) {
      this.alert.focus();
    }
  }
}
