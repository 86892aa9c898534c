// An authenticator app for the tests: RFC 6238 TOTP codes from a base32 secret, written here
// from the RFCs with node:crypto (independently of the server's totp-rs): HMAC-SHA1 over the
// 8-byte big-endian counter floor(unix time / 30), RFC 4226 dynamic truncation, 6 digits.

import { createHmac } from 'node:crypto';

export const STEP_SECONDS = 30;
const DIGITS = 6;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The bytes of an RFC 4648 base32 string (padding, spaces and case ignored). */
export function base32Decode(text) {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const bytes = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index < 0) throw new Error(`not base32: ${JSON.stringify(char)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

/** RFC 4226 HOTP: the code for one counter value. */
export function hotp(key, counter, digits = DIGITS) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The time step (counter) at `ms` (Unix milliseconds). */
export const stepAt = (ms = Date.now()) => Math.floor(ms / 1000 / STEP_SECONDS);

/** The code an authenticator app shows for `secret` (base32) in time step `step` (default: now). */
export function totp(secret, step = stepAt()) {
  return hotp(base32Decode(secret), step);
}

/** Milliseconds until the next 30-second step begins. */
export function msToNextStep(now = Date.now()) {
  return STEP_SECONDS * 1000 - (now % (STEP_SECONDS * 1000));
}

/**
 * Waits until the current step is later than `step` (a code is accepted once per step: after one
 * was used, the app's next code is the one that works), plus `marginMs` so that the server's
 * clock is past the boundary too.
 */
export async function waitForStepAfter(step, marginMs = 300) {
  while (stepAt() <= step) {
    await new Promise((resolve) => { setTimeout(resolve, msToNextStep() + marginMs); });
  }
}
