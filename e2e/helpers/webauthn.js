// Passkeys in the browser tests: Chromium's virtual authenticator (the DevTools Protocol's
// WebAuthn domain), which answers navigator.credentials.create() and .get() as a phone or a
// laptop's fingerprint reader would: a CTAP2 platform authenticator that keeps resident
// (discoverable) credentials, verifies the user and is touched at once, with no dialog.
//
// WebAuthn refuses IP addresses as relying-party ids, and the server's relying party is
// `localhost` when it listens on loopback: pages that use passkeys open the server at
// http://localhost:PORT (atLocalhost), not at the http://127.0.0.1:PORT startServer() reports.

/** The same server, addressed by name: what openPage() needs for passkeys to work. */
export function atLocalhost(server) {
  return { ...server, url: `http://localhost:${server.port}` };
}

/**
 * A virtual authenticator attached to `page` (it lives as long as the page). Its passkeys are
 * "synced" ones (backup eligible and backed up) unless `backedUp` is false.
 * @returns {Promise<{id: string, credentials(): Promise<object[]>, add(credential: object): Promise<void>}>}
 */
export async function addAuthenticator(page, { backedUp = true } = {}) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
      defaultBackupEligibility: backedUp,
      defaultBackupState: backedUp,
    },
  });
  return {
    id: authenticatorId,
    /** The credentials it holds (credentialId in base64, its private key, signCount …). */
    async credentials() {
      return (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    },
    /** Puts a credential another authenticator made into this one (a synced passkey). */
    async add(credential) {
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential });
    },
  };
}

/**
 * A browser without passkey autofill in the username field. Chromium's virtual authenticator
 * answers a conditional (autofill) request at once, as if the user had picked the passkey from
 * the suggestions; tests of the button or of the password use this to keep that out of the way.
 */
export async function withoutAutofill(context) {
  await context.addInitScript(() => {
    if (typeof window.PublicKeyCredential === 'function') {
      window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    }
  });
}

/** A CDP credential id (base64) as the page and the API write it (base64url, no padding). */
export function base64url(base64) {
  return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
