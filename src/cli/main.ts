/**
 * The `coupler` command: keygen, roster, run (the container entry point), simulate.
 * @module
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { readBoundedFile } from '../files.js';
import { existsSync, rmSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { AbortedError, CouplerError, RosterError } from '../errors.js';
import { fingerprint, encodePublicKey, generateIdentity, loadIdentity, saveIdentity, decodePublicKey } from '../identity/identity.js';
import { createRoster, loadRoster, rosterToJSON } from '../identity/roster.js';
import { importAlgorithmModule, listMethods, runAlgorithm, runContainerMain } from '../vantage6/contract.js';
import { decodeProcessLevelVariables } from '../vantage6/env.js';
import { KEY_EXCHANGE_METHOD } from '../vantage6/keys.js';
import * as demo from './demo.js';
import { simulate, suggest } from './simulate.js';
import { RELAY_HELP, relayCli } from '../relay/cli.js';

const VERSION = '0.1.0';

const HELP: Record<string, string> = {
  main: `coupler ${VERSION} — direct, authenticated channels and secure sums between algorithm containers

Usage: coupler <command> [options]

Commands:
  simulate <algorithm>   run N parties as processes on this machine (the local demo)
  keygen                 create a party identity (key pair) file
  roster                 build or check a roster (the pinned public keys of a task)
  run                    the container entry point: run the algorithm module named by PKG_NAME
  relay                  the egress-only relay that forwards end-to-end encrypted channels

Run "coupler <command> --help" for a command's options.`,
  simulate: `Usage: coupler simulate <algorithm> [options]

<algorithm> is "demo" (built in: every party sums a private vector) or a path to an algorithm
module (its exported functions are methods called as fn(kwargs, ctx), as on a vantage6 node).

Options:
  --parties N          number of parties, 2..64 (default 3)
  --method NAME        method to call (default "sum" for the demo; required for a module)
  --input FILE         JSON {"kwargs": {...}, "perParty": [{...}, ...]} passed to the method
  --data FILE          one per party (repeat the flag, or a comma list): party i gets file i as its
                       vantage6 database "default" (ctx.databases); --parties defaults to their count
  --protocol NAME      demo: secureSum | dkSecureSum | thresholdSum | ringSecureSum | plainSum
  --length L           demo: vector length (default 1000)
  --k K, --t T         demo: dkSecureSum segments / thresholdSum threshold
  --discovery MODE     dns (embedded DNS server answering tasks.<service>, default) | static
  --timeout SECONDS    overall deadline (default 120)
  --vantage6 4|5       the vantage6 container contract the parties run under (default 4), with
                       the environment a node of that version gives: 4 gives a TOKEN_FILE whose
                       claims carry organization and task (no ORGANIZATION_ID/TASK_ID) and a node
                       proxy that answers every call with HTTP 501; 5 gives kwargs-only input,
                       ALGORITHM_METHOD, ORGANIZATION_ID/TASK_ID, HOST/PORT/API_PATH of that
                       proxy (no token), a SESSION_FOLDER with its SESSION_FILE, and --data as
                       the Parquet dataframe "default" (CSV files are converted;
                       USER_REQUESTED_DATAFRAMES is set, empty, without --data)
  --transport MODE     direct (default) | relay (an embedded relay; no party listens) | auto
  --keep               keep the temporary folder (identities, inputs, outputs, stats)
  --no-progress        do not print the parties' log lines as they come (the report stays)
  --quiet              print only each party's result ("<party> <JSON>"), nothing else
  --json               print one JSON document: every party's full result, exit, signal, pid,
                       traffic and paths, the agreement and the differences

Example: npx coupler simulate demo --parties 5 --protocol secureSum --length 100000`,
  keygen: `Usage: coupler keygen --out FILE [--id PARTY_ID] [--force]

Creates an Ed25519 identity and writes it to FILE with mode 0600. Prints the public key and its
fingerprint (never the secret). Put the public key in the task's roster.`,
  roster: `Usage:
  coupler roster build --out FILE [--force] ID=KEY ID=KEY [ID=KEY ...]
      KEY is a base64 public key or the path of an identity file (only its public key is used);
      append @host:port to give an address hint: 7=keys/org7.json@station7:8888
  coupler roster check FILE
      validates the roster and prints its parties with key fingerprints`,
  run: `Usage: coupler run [--module PATH] [--list-methods]

The container entry point: reads the vantage6 environment (INPUT_FILE, OUTPUT_FILE, TOKEN_FILE or
CONTAINER_TOKEN, ...), imports the algorithm module named by --module or PKG_NAME, calls the
method the input names, writes the JSON result to OUTPUT_FILE and exits 1 on any error.
PKG_NAME=coupler:demo runs the built-in demo algorithm. --list-methods prints the methods the
module exports (JSON) and exits; the built-in method ${KEY_EXCHANGE_METHOD} (the key subtask of
runPeerTasks) is always available besides them.`,
  relay: RELAY_HELP,
};

class UsageError extends Error {}

function parse(args: string[], options: ParseArgsConfig['options'], allowPositionals = false): ReturnType<typeof parseArgs> {
  const all = { ...options, help: { type: 'boolean' as const, short: 'h' } };
  try {
    return parseArgs({ args, options: all, allowPositionals, strict: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'(--?[^'=]+)/.exec(e.message)?.[1] : undefined;
    if (unknown !== undefined) {
      const hint = suggest(unknown.replace(/^-+/, ''), Object.keys(all));
      throw new UsageError(`unknown option ${unknown.slice(0, 40)}${hint === undefined ? '' : ` (did you mean --${hint}?)`}`);
    }
    throw new UsageError(e.message);
  }
}

function num(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${flag} expects a number, got "${String(value).slice(0, 40)}"`);
  return n;
}

async function cmdKeygen(args: string[]): Promise<number> {
  const { values } = parse(args, { out: { type: 'string' }, id: { type: 'string' }, force: { type: 'boolean' } });
  if (values.help) return help('keygen');
  if (typeof values.out !== 'string') throw new UsageError('--out FILE is required');
  const identity = generateIdentity(values.id as string | undefined);
  await saveIdentity(values.out, identity, { overwrite: values.force === true });
  process.stdout.write(`wrote ${values.out} (mode 0600)\npublic key: ${encodePublicKey(identity.publicKey)}\nfingerprint: ${fingerprint(identity.publicKey)}\n`);
  return 0;
}

async function cmdRoster(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h') return help('roster');
  if (sub === undefined) throw new UsageError('roster needs a subcommand: build or check');
  if (sub === 'check') {
    const { values, positionals } = parse(rest, {}, true);
    if (values.help) return help('roster');
    if (positionals.length !== 1) throw new UsageError('roster check takes one FILE');
    if (await isIdentityFile(positionals[0]!)) {
      throw new UsageError(`${positionals[0]!.slice(0, 200)} is an identity file (it holds a secret key), not a roster: build a roster from public keys with "coupler roster build", and keep the identity file private`);
    }
    const roster = await loadRoster(positionals[0]!);
    process.stdout.write(`roster OK: ${roster.size} parties\n`);
    for (const e of roster.entries()) process.stdout.write(`  ${e.id.padEnd(12)} ${fingerprint(e.publicKey)}${e.address ? `  ${e.address}` : ''}\n`);
    return 0;
  }
  if (sub === 'build') {
    const { values, positionals } = parse(rest, { out: { type: 'string' }, force: { type: 'boolean' } }, true);
    if (values.help) return help('roster');
    if (typeof values.out !== 'string') throw new UsageError('--out FILE is required');
    if (positionals.length < 2) throw new UsageError(`a roster needs at least two parties (got ${positionals.length} ID=KEY)`);
    if (values.force !== true && existsSync(values.out)) throw new UsageError(`${values.out.slice(0, 200)} exists; give --force to overwrite it`);
    const entries = [];
    for (const spec of positionals) {
      const eq = spec.indexOf('=');
      if (eq <= 0) throw new UsageError(`"${spec.slice(0, 60)}" is not ID=KEY`);
      const id = spec.slice(0, eq);
      let key = spec.slice(eq + 1);
      let address: string | undefined;
      const at = key.lastIndexOf('@');
      if (at > 0) {
        address = key.slice(at + 1);
        key = key.slice(0, at);
      }
      let publicKey: Uint8Array;
      try {
        publicKey = decodePublicKey(key);
      } catch {
        try {
          publicKey = (await loadIdentity(key)).publicKey;
        } catch (err) {
          const why = err instanceof CouplerError ? err.message : 'unreadable';
          throw new RosterError(`entry "${id.slice(0, 40)}": KEY is neither a base64 Ed25519 public key (32 bytes) nor a readable identity file (${why})`, { entry: id.slice(0, 40), field: 'publicKey' });
        }
      }
      entries.push(address === undefined ? { id, publicKey } : { id, publicKey, address });
    }
    const roster = createRoster(entries);
    await writeFile(values.out, rosterToJSON(roster));
    process.stdout.write(`wrote ${values.out}: ${roster.size} parties\n`);
    return 0;
  }
  const hint = suggest(sub, ['build', 'check']);
  throw new UsageError(`unknown roster subcommand "${sub.slice(0, 40)}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`} (build, check)`);
}

/** Bytes {@link isIdentityFile} reads at most: a roster's own cap (loadRoster refuses anything larger). */
const MAX_CHECKED_FILE_BYTES = 4 * 1024 * 1024;

/**
 * Whether a file is an identity file (JSON with a secret key) rather than a roster. Read as the
 * roster is (readBoundedFile): a plain readFile blocked for ever on a FIFO with no writer and read
 * /dev/zero up to 2 GiB (review22 R22-3); anything that is not a small regular file is left to
 * loadRoster, which refuses it with a typed error.
 */
async function isIdentityFile(path: string): Promise<boolean> {
  try {
    const v = JSON.parse((await readBoundedFile(path, MAX_CHECKED_FILE_BYTES)).bytes.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) && ('secretSeed' in v || 'secretKey' in v);
  } catch {
    return false;
  }
}

/** How long `coupler run` waits after SIGTERM/SIGINT for the method to wind down before it exits anyway. */
const TERMINATION_GRACE_MS = 2000;

/**
 * Run `body` with SIGTERM and SIGINT turned into an abort of its signal. In a container the entry
 * point is PID 1, and the kernel drops signals that PID 1 does not handle: without this, `docker
 * stop` or a pod deletion would wait out the grace period and SIGKILL. After the first signal the
 * method gets `graceMs` (default {@link TERMINATION_GRACE_MS}) to stop (its group closes, its peers are told); then, or on
 * a second signal, the process exits with 128 + the signal number.
 */
async function withTermination(body: (signal: AbortSignal) => Promise<number>, graceMs = TERMINATION_GRACE_MS): Promise<number> {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const exitCode = (sig: NodeJS.Signals): number => (sig === 'SIGINT' ? 130 : sig === 'SIGHUP' ? 129 : 143);
  const onSignal = (sig: NodeJS.Signals): void => {
    if (received !== undefined) process.exit(exitCode(sig));
    received = sig;
    process.stderr.write(`[coupler] warn: ${sig} received: stopping\n`);
    controller.abort(new AbortedError(`stopped by ${sig}`));
    setTimeout(() => process.exit(exitCode(sig)), graceMs).unref();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Closing the terminal: stop and clean up like SIGTERM (the default would kill the process
  // before any cleanup, leaving `simulate`'s key folder behind).
  process.on('SIGHUP', onSignal);
  try {
    const code = await body(controller.signal);
    return received === undefined ? code : exitCode(received);
  } catch (err) {
    if (received === undefined) throw err;
    return exitCode(received); // stopped by the signal: the abort error is the expected outcome
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    process.off('SIGHUP', onSignal);
  }
}

/**
 * For parties started by `coupler simulate` (COUPLER_SIM_PARENT_PID set): exit when simulate is
 * gone, even after SIGKILL (which simulate cannot clean up after): poll the parent pid; when this
 * process has been re-parented, remove simulate's temporary folder (every party's key is in it)
 * and exit 137.
 */
function exitWithSimulate(env: NodeJS.ProcessEnv): void {
  const parent = Number(env.COUPLER_SIM_PARENT_PID);
  if (!Number.isSafeInteger(parent) || parent <= 1) return;
  const simDir = env.COUPLER_SIM_DIR;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    // Only a folder simulate made (name and contents), never an arbitrary path from the environment.
    if (simDir !== undefined && isAbsolute(simDir) && /^coupler-sim-[A-Za-z0-9]{6}$/.test(basename(simDir)) && existsSync(join(simDir, 'roster.json'))) {
      try {
        rmSync(simDir, { recursive: true, force: true });
      } catch {
        /* another party removed it first */
      }
    }
    process.stderr.write('[coupler] warn: coupler simulate is gone: stopping\n');
    process.exit(137);
  }, 250);
  timer.unref();
}

async function cmdRun(args: string[]): Promise<number> {
  const { values } = parse(args, { module: { type: 'string' }, 'list-methods': { type: 'boolean' } });
  if (values.help) return help('run');
  const env = { ...process.env };
  if (typeof values.module === 'string') env.PKG_NAME = values.module;
  if (values['list-methods'] === true) {
    // Used by `simulate` to check --method before starting any party.
    const mod = env.PKG_NAME === 'coupler:demo' ? demo : await importAlgorithmModule(env.PKG_NAME ?? '');
    // What the module exports; the runtime's built-in coupler_key_exchange is not the module's.
    process.stdout.write(`${JSON.stringify([...listMethods(mod).keys()].sort())}\n`);
    return 0;
  }
  exitWithSimulate(env);
  return withTermination(async (signal) => {
    if (env.PKG_NAME === 'coupler:demo') {
      decodeProcessLevelVariables(process.env); // as runContainerMain does
      const code = await runAlgorithm({ module: demo, env, signal });
      process.exitCode = code;
      return code;
    }
    return runContainerMain(env, { signal });
  });
}

async function cmdSimulate(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      parties: { type: 'string', short: 'n' },
      method: { type: 'string' },
      input: { type: 'string' },
      data: { type: 'string', multiple: true },
      protocol: { type: 'string' },
      length: { type: 'string' },
      k: { type: 'string' },
      t: { type: 'string' },
      discovery: { type: 'string' },
      timeout: { type: 'string' },
      keep: { type: 'boolean' },
      quiet: { type: 'boolean' },
      'no-progress': { type: 'boolean' },
      json: { type: 'boolean' },
      vantage6: { type: 'string' },
      transport: { type: 'string' },
    },
    true,
  );
  if (values.help) return help('simulate');
  if (positionals.length !== 1) throw new UsageError('simulate takes one <algorithm>: "demo" or a module path');
  const discovery = values.discovery;
  if (discovery !== undefined && discovery !== 'dns' && discovery !== 'static') throw new UsageError('--discovery must be dns or static');
  const v6 = values.vantage6;
  if (v6 !== undefined && v6 !== '4' && v6 !== '5') throw new UsageError('--vantage6 must be 4 or 5');
  const transport = values.transport;
  if (transport !== undefined && transport !== 'direct' && transport !== 'relay' && transport !== 'auto') throw new UsageError('--transport must be direct, relay or auto');
  if (values.json === true && values.quiet === true) throw new UsageError('give --json or --quiet, not both');
  const k = num(values.k, '--k');
  const t = num(values.t, '--t');
  const length = num(values.length, '--length');
  const timeout = num(values.timeout, '--timeout');
  const dataFiles = ((values.data as string[] | undefined) ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter((d) => d.length > 0);
  // `coupler simulate ... | head -2`: the reader goes away and every later write fails with EPIPE.
  // Stop the run and clean up (parties, key folder) instead of dying on an unhandled error.
  const stdoutGone = new AbortController();
  const onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') stdoutGone.abort(new AbortedError('standard output closed'));
  };
  process.stdout.on('error', onStdoutError);
  const outcome = await withTermination(async (signal) => {
    const o = await simulate({
      signal: AbortSignal.any([signal, stdoutGone.signal]),
      out: (line: string) => {
        if (!stdoutGone.signal.aborted) process.stdout.write(`${line}\n`);
      },
      algorithm: positionals[0]!,
      parties: num(values.parties, '--parties') ?? (dataFiles.length > 0 ? dataFiles.length : 3),
      ...(dataFiles.length > 0 ? { dataFiles } : {}),
      ...(typeof values.method === 'string' ? { method: values.method } : {}),
      ...(typeof values.input === 'string' ? { inputFile: values.input } : {}),
      ...(typeof values.protocol === 'string' ? { protocol: values.protocol } : {}),
      ...(length === undefined ? {} : { length }),
      ...(k === undefined ? {} : { k }),
      ...(t === undefined ? {} : { t }),
      ...(discovery === undefined ? {} : { discovery }),
      ...(timeout === undefined ? {} : { timeoutSeconds: timeout }),
      keep: values.keep === true,
      progress: values.quiet !== true && values.json !== true && values['no-progress'] !== true,
      report: values.json === true ? 'json' : values.quiet === true ? 'results' : 'full',
      ...(v6 === undefined ? {} : { vantage6: v6 === '5' ? 5 : 4 }),
      ...(transport === undefined ? {} : { transport }),
    });
    return o.agreed && o.correct !== false ? 0 : 1;
  }, 8000).catch((err: unknown) => {
    if (stdoutGone.signal.aborted) return 141; // 128 + SIGPIPE, as a shell pipeline expects
    throw err;
  });
  process.stdout.off('error', onStdoutError);
  return stdoutGone.signal.aborted ? 141 : outcome;
}

function help(topic: string): number {
  process.stdout.write(`${HELP[topic] ?? HELP.main}\n`);
  return 0;
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        return help(rest[0] ?? 'main');
      case '--version':
      case '-v':
        process.stdout.write(`${VERSION}\n`);
        return 0;
      case 'keygen':
        return await cmdKeygen(rest);
      case 'roster':
        return await cmdRoster(rest);
      case 'run':
        return await cmdRun(rest);
      case 'simulate':
        return await cmdSimulate(rest);
      case 'relay':
        return await relayCli(rest);
      default:
        throw new UsageError(`unknown command "${command.slice(0, 40)}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`coupler: ${err.message}\nRun "coupler ${command && HELP[command] ? `${command} ` : ''}--help" for usage.\n`);
      return 2;
    }
    if (err instanceof CouplerError) {
      process.stderr.write(`coupler: ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`coupler: unexpected error: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
