/**
 * One n-party group on 127.0.0.1 whose parties named in `scenarios` run as fixture processes
 * (test/protocols/fixtures/adversary.ts by default) and the rest as honest parties in this process,
 * each running `honestRun`. Shared by the adversarial review suites (aggregate-review,
 * fused-review), which each had a copy.
 */
import type { Group, JoinGroupOptions } from '../../src/group/group';
import type { SumResult } from '../../src/protocols';
import { AddressBook, joinLocal, makeParties, settleAll, spawnParty, type FixtureProcess, type TestParties } from './group-harness';

/** The adversary fixture the review suites spawn. */
export const ADVERSARY_FIXTURE = 'test/protocols/fixtures/adversary.ts';

/** What a scenario ended with, per honest party (in `honest` order). */
export interface ScenarioOutcome<T = SumResult> {
  readonly parties: TestParties;
  readonly honest: string[];
  readonly results: ({ ok: true; value: T } | { ok: false; error: unknown })[];
  readonly children: Map<string, FixtureProcess>;
}

/**
 * Run one scenario. `scenarios` maps party id → fixture scenario (or is computed from the parties,
 * for scenarios that need their keys); the fixture children are told to exit and the honest groups
 * closed afterwards, whatever happened.
 */
export async function runFixtureScenario<T = SumResult>(
  n: number,
  scenarios: Record<string, Record<string, unknown>> | ((parties: TestParties) => Record<string, Record<string, unknown>>),
  honestRun: (g: Group, index: number) => Promise<T>,
  roundTimeoutMs: number,
  extra: Partial<JoinGroupOptions> = {},
): Promise<ScenarioOutcome<T>> {
  const parties = makeParties(n);
  const byId = typeof scenarios === 'function' ? scenarios(parties) : scenarios;
  const book = new AddressBook();
  const honest = parties.ids.filter((id) => !(id in byId));
  const children = new Map<string, FixtureProcess>();
  let groups: Group[] = [];
  try {
    groups = await joinLocal(parties, honest, book, {
      roundTimeoutMs,
      extra: () => extra,
      onListening: async () => {
        for (const [id, scenario] of Object.entries(byId).sort(([a], [b]) => (a < b ? 1 : -1))) {
          const child = spawnParty(ADVERSARY_FIXTURE, parties, id, book, scenario, roundTimeoutMs);
          children.set(id, child);
          await child.waitFor('listening');
        }
      },
    });
    await Promise.all([...children.values()].map((c) => c.waitFor('joined')));
    const results = await settleAll(groups.map((g) => honestRun(g, parties.ids.indexOf(g.localId))));
    return { parties, honest, results, children };
  } finally {
    for (const c of children.values()) c.command({ cmd: 'exit' });
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all(
      [...children.values()].map(async (c) => {
        const timer = setTimeout(() => c.kill(), 3000);
        await c.exited;
        clearTimeout(timer);
      }),
    );
  }
}
