// Dashboard section: the account as GET /api/me describes it.

import { cloneTemplate, slot } from './dom.js';

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'long' });

export const accountDetailsSection = {
  id: 'details',
  render({ user }) {
    const card = cloneTemplate('tpl-section-details');
    slot(card, 'username').textContent = user.username;
    const created = slot(card, 'created');
    const when = new Date(user.created_at);
    if (Number.isNaN(when.getTime())) {
      created.textContent = user.created_at;
    } else {
      created.dateTime = user.created_at;
      created.textContent = dateFormat.format(when);
    }
    return card;
  },
};
