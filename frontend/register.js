// The "Create an account" screen. A 201 starts no session: the user goes on to the login screen
// with a notice and the username filled in, as the original app redirected to /login.

import { api } from './api.js';
import { Form } from './forms.js';
import { NOTICE, PROBLEM } from './codes.js';

export const registerScreen = {
  path: '/register',
  title: 'Create an account',
  access: 'guest',
  template: 'tpl-register',
  mount(root, { app }) {
    new Form(root.querySelector('form'), async ({ username, password }) => {
      const user = await api.register(username, password);
      await app.navigate('/login', {
        state: { notice: NOTICE.accountCreated, username: user.username },
        user: null,
      });
    }, { fieldForCode: { [PROBLEM.usernameTaken]: 'username' } });
  },
};
