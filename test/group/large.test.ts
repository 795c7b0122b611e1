/**
 * A group of more than ten parties must not trip Node's "possible EventTarget memory leak"
 * warning, which fires at the 11th listener on one AbortSignal (joinGroup: one per dial in flight;
 * gather: one per peer). Containers print it to stderr, where operators read it as a leak. Runs
 * the group in a child process (fixtures/large-group.ts): warnings are not observable inside jest.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';

jest.setTimeout(40_000);

test('12 parties form the mesh and gather a round without a MaxListenersExceededWarning', async () => {
  const root = resolve(__dirname, '..', '..');
  const out = await new Promise<string>((ok, fail) =>
    execFile(process.execPath, ['--import', 'tsx', resolve(__dirname, 'fixtures', 'large-group.ts')], { cwd: root, timeout: 35_000 }, (err, stdout, stderr) =>
      err ? fail(new Error(`${err.message}\n${stderr}`)) : ok(stdout),
    ),
  );
  const result = JSON.parse(out.trim().split('\n').pop()!) as { n: number; correct: boolean; warnings: string[] };
  expect(result).toEqual({ n: 12, correct: true, warnings: [] });
});
