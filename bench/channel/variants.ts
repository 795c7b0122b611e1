/**
 * Variant names shared by the channel benchmark's parent and its child processes (importing this
 * file has no side effects, unlike the child entry points).
 * @module
 */

/** Micro variants: aead-* and frame-* report MB/s, the others operations/s. */
export const MICRO_VARIANTS = [
  'ed25519-sign/native',
  'ed25519-sign/tweetnacl',
  'ed25519-verify/native',
  'ed25519-verify/tweetnacl',
  'x25519-keygen+dh/native',
  'x25519-keygen+dh/tweetnacl',
  'aead-seal/chacha20-poly1305',
  'aead-seal/secretbox',
  'aead-open/chacha20-poly1305',
  'aead-open/secretbox',
  'frame-seal+open/native',
  'frame-seal+open/tweetnacl',
] as const;
export type MicroVariant = (typeof MICRO_VARIANTS)[number];
