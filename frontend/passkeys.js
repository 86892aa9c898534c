// Passkeys (WebAuthn) in this page: whether they can work here, and the two browser calls,
// navigator.credentials.create() (add a passkey) and .get() (sign in, or the login's second
// step), with the conversions between the API's JSON and what those calls take and give.
//
// The API sends the options as WebAuthn's JSON forms (PublicKeyCredentialCreationOptionsJSON,
// PublicKeyCredentialRequestOptionsJSON) and wants the credential back as JSON, binary fields
// in base64url without padding both ways. Browsers that have PublicKeyCredential.toJSON() and
// parseCreationOptionsFromJSON() are not all browsers that have passkeys, so the conversion is
// done here, by hand: only the fields the contract names are read and sent.
//
// WebAuthn ties a passkey to a domain name (the relying party id): it refuses a page opened at
// an IP address, such as http://127.0.0.1:8080. passkeySupport() tells the screens so, and
// what to open instead.

/** base64url (no padding, or with it) → ArrayBuffer. */
export function fromBase64url(text) {
  const base64 = String(text).replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** ArrayBuffer or a view of one → base64url without padding. */
export function toBase64url(buffer) {
  const bytes = buffer instanceof ArrayBuffer
    ? new Uint8Array(buffer)
    : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * A JSON value without its null members, at any depth: in WebAuthn's dictionaries a member is
 * absent or has a value, and the browser refuses null for most of them.
 */
function compact(value) {
  if (Array.isArray(value)) return value.map(compact);
  if (value === null || typeof value !== 'object') return value;
  const out = {};
  for (const [name, member] of Object.entries(value)) {
    if (member !== null && member !== undefined) out[name] = compact(member);
  }
  return out;
}

/** The members of `json` named in `names` that are present (not null), nulls inside removed. */
function pick(json, names) {
  const out = {};
  for (const name of names) {
    if (json?.[name] !== undefined && json[name] !== null) out[name] = compact(json[name]);
  }
  return out;
}

/** A credential descriptor list ({type, id, transports?}), ids decoded. */
function descriptors(list) {
  if (!Array.isArray(list)) return undefined;
  return list.map((item) => ({
    ...pick(item, ['type', 'transports']),
    type: item.type || 'public-key',
    id: fromBase64url(item.id),
  }));
}

/** PublicKeyCredentialCreationOptionsJSON → the options navigator.credentials.create() takes. */
export function creationOptions(json) {
  const options = {
    ...pick(json, ['rp', 'pubKeyCredParams', 'timeout', 'authenticatorSelection', 'attestation',
      'hints', 'extensions']),
    challenge: fromBase64url(json.challenge),
    user: { ...pick(json.user, ['name', 'displayName']), id: fromBase64url(json.user.id) },
  };
  const exclude = descriptors(json.excludeCredentials);
  if (exclude) options.excludeCredentials = exclude;
  return options;
}

/** PublicKeyCredentialRequestOptionsJSON → the options navigator.credentials.get() takes. */
export function requestOptions(json) {
  const options = {
    ...pick(json, ['rpId', 'timeout', 'userVerification', 'hints', 'extensions']),
    challenge: fromBase64url(json.challenge),
  };
  const allow = descriptors(json.allowCredentials);
  if (allow) options.allowCredentials = allow;
  return options;
}

/** A new credential (create()'s answer) as the API wants it. */
export function registrationJSON(credential) {
  const { response } = credential;
  const json = {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      attestationObject: toBase64url(response.attestationObject),
    },
  };
  const transports = typeof response.getTransports === 'function' ? response.getTransports() : null;
  if (Array.isArray(transports)) json.response.transports = transports;
  if (typeof credential.getClientExtensionResults === 'function') {
    json.clientExtensionResults = credential.getClientExtensionResults();
  }
  return json;
}

/** An assertion (get()'s answer) as the API wants it. */
export function assertionJSON(credential) {
  const { response } = credential;
  return {
    id: credential.id,
    rawId: toBase64url(credential.rawId),
    type: credential.type,
    response: {
      clientDataJSON: toBase64url(response.clientDataJSON),
      authenticatorData: toBase64url(response.authenticatorData),
      signature: toBase64url(response.signature),
      userHandle: response.userHandle ? toBase64url(response.userHandle) : null,
    },
  };
}

/** Creates a passkey from the API's `publicKey` options; resolves with its JSON. */
export async function createPasskey(publicKey) {
  const credential = await navigator.credentials.create({ publicKey: creationOptions(publicKey) });
  if (!credential) throw new DOMException('No passkey was created.', 'NotAllowedError');
  return registrationJSON(credential);
}

/**
 * Asks for a passkey with the API's `publicKey` options; resolves with the assertion's JSON.
 * `mediation: 'conditional'` offers the passkeys in the username field's suggestions (autofill)
 * instead of a dialog; `signal` ends the request.
 */
export async function getPasskey(publicKey, { mediation, signal } = {}) {
  const credential = await navigator.credentials.get({
    publicKey: requestOptions(publicKey),
    ...(mediation ? { mediation } : {}),
    ...(signal ? { signal } : {}),
  });
  if (!credential) throw new DOMException('No passkey was chosen.', 'NotAllowedError');
  return assertionJSON(credential);
}

/**
 * The user closed the browser's passkey dialog, it timed out, or the page ended the request:
 * nothing to report (WebAuthn gives these one name on purpose, NotAllowedError).
 */
export function isCancelled(error) {
  return error instanceof DOMException
    && (error.name === 'NotAllowedError' || error.name === 'AbortError');
}

/** An IPv4 address, or an IPv6 one in brackets (location.hostname keeps them). */
const IP_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/i;
const LOOPBACK_IP = /^(127(\.\d{1,3}){3}|\[::1\])$/;

/**
 * Whether passkeys can work on this page: `usable`, else `hint` says why not when the page's
 * address is to blame (plain http at a name, or an IP address; `href`: the address to open,
 * when known), and is null when the browser itself has no passkeys.
 * @returns {{usable: boolean, hint: string|null, href: string|null}}
 */
export function passkeySupport(where = window.location) {
  if (!window.isSecureContext) {
    // Browsers hide WebAuthn from pages served over plain http, but for localhost.
    return { usable: false, hint: 'Passkeys need this page over https.', href: null };
  }
  if (typeof window.PublicKeyCredential !== 'function' || typeof navigator.credentials?.get !== 'function') {
    return { usable: false, hint: null, href: null };
  }
  if (!IP_HOST.test(where.hostname)) return { usable: true, hint: null, href: null };
  if (LOOPBACK_IP.test(where.hostname)) {
    const port = where.port ? `:${where.port}` : '';
    const origin = `${where.protocol}//localhost${port}`;
    return {
      usable: false,
      hint: `Passkeys need this page at a name, not an IP address: open ${origin}`,
      href: `${origin}${where.pathname}${where.search}`,
    };
  }
  return {
    usable: false,
    hint: 'Passkeys need this page at a name, not an IP address: open it at the server’s name.',
    href: null,
  };
}

/** Whether the browser offers passkeys in the username field's suggestions (autofill). */
export async function autofillAvailable() {
  try {
    return await window.PublicKeyCredential?.isConditionalMediationAvailable?.() === true;
  } catch {
    return false;
  }
}

/**
 * Fills a hint paragraph: the sentence, with the address to open as a link when there is one
 * (another origin: a full page load, not the app's own navigation).
 */
export function showHint(element, { hint, href }) {
  element.replaceChildren();
  if (href && hint.endsWith(new URL(href).origin)) {
    const link = document.createElement('a');
    link.href = href;
    link.textContent = new URL(href).origin;
    element.append(hint.slice(0, -link.textContent.length), link);
  } else {
    element.textContent = hint;
  }
  element.hidden = false;
}
