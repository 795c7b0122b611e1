#!/usr/bin/env node
// The published package.json has no "prepare" script: a user's `npm install` of the tarball must
// not see a build step (npm lists it among install scripts). In this repository "prepare" builds
// dist/ after `npm ci`, which the quick start needs, so it stays here and is taken out only while
// npm packs: `prepack` runs `strip`, `postpack` runs `restore`.
//
//   node scripts/pack-manifest.mjs strip     keep package.json as package.json.prepack, write it without "prepare"
//   node scripts/pack-manifest.mjs restore   put package.json.prepack back (no-op when there is none)
//
// An interrupted pack leaves package.json.prepack behind; `strip` then refuses to run (it would
// overwrite the original), and `restore` puts it back.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const manifest = join(root, 'package.json');
const backup = join(root, 'package.json.prepack');
const cmd = process.argv[2];

if (cmd === 'strip') {
  if (existsSync(backup)) {
    process.stderr.write('pack-manifest: package.json.prepack exists (an interrupted pack?): run `node scripts/pack-manifest.mjs restore` first\n');
    process.exit(1);
  }
  const text = readFileSync(manifest, 'utf8');
  const pkg = JSON.parse(text);
  writeFileSync(backup, text);
  delete pkg.scripts.prepare;
  writeFileSync(manifest, `${JSON.stringify(pkg, null, 2)}\n`);
} else if (cmd === 'restore') {
  if (existsSync(backup)) renameSync(backup, manifest);
} else {
  process.stderr.write('usage: node scripts/pack-manifest.mjs strip|restore\n');
  process.exit(2);
}
