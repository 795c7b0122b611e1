/** Shared helpers of the relay tests: groups whose channels run through a real relay on 127.0.0.1. */
import { joinGroup, type Group, type JoinGroupOptions } from '../../src/group/group';
import type { TestParties } from '../support/group-harness';
import { AddressBook } from '../support/group-harness';

/** Join every party of `parties`; `perParty` adds options per id (transport, listen ...). */
export async function joinAll(parties: TestParties, perParty: (id: string) => Partial<JoinGroupOptions>, timeoutMs = 15_000): Promise<Group[]> {
  const book = new AddressBook();
  const settled = await Promise.allSettled(
    parties.ids.map((id) =>
      joinGroup({
        identity: parties.identities.get(id)!,
        roster: parties.roster,
        sessionId: parties.sessionId,
        discovery: book.discoveryFor(id),
        listen: false,
        timeoutMs,
        roundTimeoutMs: 5_000,
        discoveryIntervalMs: 20,
        dialBackoff: { initialMs: 20, maxMs: 200 },
        onEvent: (e) => {
          if (e.type === 'listening') book.add(id, e.port);
        },
        ...perParty(id),
      }),
    ),
  );
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(settled.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)));
    throw (failed as PromiseRejectedResult).reason;
  }
  return settled.map((r) => (r as PromiseFulfilledResult<Group>).value);
}
