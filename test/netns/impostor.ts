/**
 * Testbed child: an impostor. Holds its own key pair and answers on the party port, claiming the
 * party id `claimId` (either an id that is not in the honest roster, or a real party's id — key
 * substitution). It also dials every party address once a second. It keeps a roster of its own
 * in which `claimId` maps to its own key, so from its side the handshake would be fine; the
 * honest parties check against THEIR roster and must refuse it.
 *
 * Configuration: `CPL_IMP` = JSON `{ identity, roster, sessionId, claimId, port, targets: ["ip:port"] }`.
 */
import { parseIdentity } from '../../src/identity/identity';
import { parseRoster } from '../../src/identity/roster';
import { connectChannel, listenChannels } from '../../src/channel/transport';
import { childSetup, codeChain, emit } from './child';

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.CPL_IMP ?? '{}') as { identity: string; roster: string; sessionId: string; claimId: string; port: number; targets: string[] };
  childSetup();
  const common = { identity: parseIdentity(cfg.identity), roster: parseRoster(cfg.roster), sessionId: cfg.sessionId, localId: cfg.claimId, handshakeTimeoutMs: 3000 };
  await listenChannels({
    ...common,
    host: '0.0.0.0',
    port: cfg.port,
    onChannel: (ch) => emit('accepted', { peer: ch.peerId }),
    onHandshakeError: (err) => emit('inbound-failed', { code: err.code, peer: err.peer }),
  });
  emit('listening', { claimId: cfg.claimId });
  const tick = async (): Promise<void> => {
    for (const t of cfg.targets) {
      const [host, port] = t.split(':');
      try {
        const ch = await connectChannel({ host: host!, port: Number(port) }, common);
        emit('dial-accepted', { target: t, peer: ch.peerId });
      } catch (err) {
        emit('dial-refused', { target: t, codes: codeChain(err) });
      }
    }
  };
  setInterval(() => void tick(), 1000);
}

main().catch((err: unknown) => {
  emit('fatal', { message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});
