/**
 * Benchmark child: one JIFF party on loopback. `CPL_JIFF` = JSON
 * `{ port, computationId, partyCount, partyId }`. Connects to the JIFF server, waits for all
 * parties (`ready` with the setup time), then per stdin command `{"op":"sum","id","length"}`
 * shares its input vector (share_array), adds the parties' shares locally and opens the sum
 * (open_array), and prints `result` with the time and a checksum. Inputs are the testbed's
 * deterministic inputs (`partyInput`), so the checksum is comparable with coupler's.
 */
import { childSetup, emit } from '../../test/netns/child';
import { partyInput, checksumOf } from '../../test/netns/inputs';

interface Share {
  sadd(o: Share): Share;
}
interface Client {
  wait_for(parties: number[], cb: () => void): void;
  share_array(a: number[], length?: number): Promise<Record<string, Share[]>>;
  open_array(a: Share[]): Promise<number[]>;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { JIFFClient } = require('jiff-mpc') as { JIFFClient: new (host: string, id: string, options: Record<string, unknown>) => Client };

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.CPL_JIFF ?? '{}') as { port: number; computationId: string; partyCount: number; partyId: number };
  const queue: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  childSetup((cmd) => {
    queue.push(cmd);
    wake?.();
  });
  const t0 = performance.now();
  const client = await new Promise<Client>((resolve) => {
    const c: Client = new JIFFClient(`http://127.0.0.1:${cfg.port}`, cfg.computationId, {
      party_count: cfg.partyCount,
      party_id: cfg.partyId,
      crypto_provider: true,
      onError: (_where: unknown, err: unknown) => emit('jiff-error', { message: String(err) }),
    });
    const all = Array.from({ length: cfg.partyCount }, (_, i) => i + 1);
    c.wait_for(all, () => resolve(c));
  });
  emit('ready', { ms: performance.now() - t0 });
  for (;;) {
    while (queue.length === 0) await new Promise<void>((r) => (wake = r));
    const cmd = queue.shift()!;
    if (cmd.op === 'exit') break;
    if (cmd.op !== 'sum') continue;
    const length = Number(cmd.length);
    const x = Array.from(partyInput(cfg.partyId - 1, length));
    const s0 = performance.now();
    const shares = await client.share_array(x, length);
    const ids = Object.keys(shares);
    const sum: Share[] = [];
    for (let k = 0; k < length; k++) {
      let acc = shares[ids[0]!]![k]!;
      for (let p = 1; p < ids.length; p++) acc = acc.sadd(shares[ids[p]!]![k]!);
      sum.push(acc);
    }
    const opened = await client.open_array(sum);
    emit('result', { id: cmd.id, length, ms: performance.now() - s0, checksum: checksumOf(opened.map(Number)) });
  }
  process.exit(0);
}

main().catch((err: unknown) => {
  emit('error', { message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
