#!/usr/bin/env node
// The published package.json has no "prepare" script: a user's `npm install` of the tarball must
// not see a build step (npm lists it among install scripts). In this repository "prepare" builds
// dist/ after `npm ci`, which the quick start needs, so it stays here.
//
// The repository's package.json is never edited to pack (an interrupted in-place edit would leave
// it changed): `npm run tarball` builds, then packs a staged copy (the files `npm pack` would take)
// whose package.json has none of the repository-only scripts (prepare, prepack, postpack, tarball).
// A plain `npm pack` or `npm publish` here would ship "prepare", so the "prepack" script (`check`,
// which npm runs before "prepare") refuses it and says what to run instead.
//
//   node scripts/pack-manifest.mjs pack [npm pack options]   pack a staged copy (the tarball lands in the current
//                                                            folder unless --pack-destination says otherwise)
//   node scripts/pack-manifest.mjs check                     exit 1 if ./package.json has a "prepare" script
//   node scripts/pack-manifest.mjs strip|restore             in place (for a throwaway copy, e.g. the image's build
//                                                            stage): keep package.json as package.json.prepack and
//                                                            write it without those scripts / put it back
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const manifest = join(root, 'package.json');
const backup = join(root, 'package.json.prepack');
const [cmd, ...rest] = process.argv.slice(2);
/** Scripts that only make sense in the repository (they build, or point at scripts/ which is not packed). */
const REPO_ONLY_SCRIPTS = ['prepare', 'prepack', 'postpack', 'tarball'];

/** The manifest text without the repository-only scripts. */
function published(text) {
  const pkg = JSON.parse(text);
  for (const s of REPO_ONLY_SCRIPTS) delete pkg.scripts?.[s];
  return `${JSON.stringify(pkg, null, 2)}\n`;
}

function fail(message, code = 1) {
  process.stderr.write(`pack-manifest: ${message}\n`);
  process.exit(code);
}

/** `npm ...` in `cwd`; stdout returned or passed through. */
function npm(args, cwd, capture) {
  const r = spawnSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'] });
  if (r.error) fail(`npm ${args[0]}: ${r.error.message}`);
  if (r.status !== 0) process.exit(r.status ?? 1);
  return r.stdout;
}

if (cmd === 'pack') {
  if (existsSync(backup)) fail('package.json.prepack exists (an interrupted in-place strip?): run `node scripts/pack-manifest.mjs restore` first');
  // --pack-destination is relative to where the command was run, not to the staged copy.
  const args = [...rest];
  const i = args.findIndex((a) => a === '--pack-destination' || a.startsWith('--pack-destination='));
  let dest = process.cwd();
  if (i >= 0) {
    const [flag, value] = args[i].includes('=') ? args[i].split(/=(.*)/s) : [args[i], args[i + 1]];
    if (!value) fail('--pack-destination needs a folder', 2);
    dest = resolve(value);
    args.splice(i, flag === args[i] ? 2 : 1);
  }
  // Exactly the files npm would pack here (the "files" list, README, LICENSE, package.json).
  const listing = JSON.parse(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root, true));
  const stage = mkdtempSync(join(tmpdir(), 'coupler-pack-'));
  try {
    for (const { path } of listing[0].files) {
      mkdirSync(dirname(join(stage, path)), { recursive: true });
      cpSync(join(root, path), join(stage, path)); // keeps the mode (dist/cli.js is executable)
    }
    writeFileSync(join(stage, 'package.json'), published(readFileSync(manifest, 'utf8')));
    npm(['pack', '--ignore-scripts', '--pack-destination', dest, ...args], stage, false);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
} else if (cmd === 'check') {
  const pkg = JSON.parse(readFileSync(join(process.cwd(), 'package.json'), 'utf8'));
  if (pkg.scripts?.prepare !== undefined) {
    fail(
      'this package.json has the "prepare" build script (the repository needs it: `npm ci` builds dist/), which the published package must not have.\n' +
        '  Pack with `npm run tarball` (it packs a copy without it) and publish that tarball: npm publish ./<name>-<version>.tgz',
    );
  }
} else if (cmd === 'strip') {
  if (existsSync(backup)) fail('package.json.prepack exists (an interrupted strip?): run `node scripts/pack-manifest.mjs restore` first');
  const text = readFileSync(manifest, 'utf8');
  writeFileSync(backup, text);
  writeFileSync(manifest, published(text));
} else if (cmd === 'restore') {
  if (existsSync(backup)) renameSync(backup, manifest);
} else {
  fail('usage: node scripts/pack-manifest.mjs pack [npm pack options] | check | strip | restore', 2);
}
