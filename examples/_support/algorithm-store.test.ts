/**
 * The examples' vantage6 5.x algorithm-store descriptions (examples/<name>/algorithm-store.json),
 * checked against the store's own input rules and against the modules they describe.
 *
 * The rules, from vantage6's source (release/5.0):
 * - vantage6-algorithm-store/vantage6/algorithm/store/resource/schema/input_schema.py:
 *   AlgorithmInputSchema (name, image, partitioning, vantage6_version, code_url, functions
 *   required), FunctionInputSchema (name, step_type required; unique argument names),
 *   ArgumentInputSchema (name, type required; a default only with has_default_value, of the
 *   argument's type; allowed values of the type, the default among them), DatabaseInputSchema;
 *   marshmallow refuses unknown fields;
 * - vantage6-algorithm-store/vantage6/algorithm/store/model/common/enums.py: Partitioning;
 * - vantage6-common/vantage6/common/enum.py: AlgorithmStepType, AlgorithmArgumentType.
 * And what HQ does with it (vantage6-hq/vantage6/hq/resource/common/task_post_base.py,
 * __check_action): a user's task that names a store takes its action from the function's
 * step_type, which the node passes as FUNCTION_ACTION — so every step type must be one coupler runs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRANSPORT_KWARGS, listMethods, type AlgorithmModule } from '../../src/vantage6';
import { KEY_EXCHANGE_METHOD } from '../../src/vantage6/keys';
import { EXAMPLES } from './harness';

const PARTITIONING = ['horizontal', 'vertical'];
const STEP_TYPES = ['data_extraction', 'preprocessing', 'federated_compute', 'central_compute', 'postprocessing'];
/** The step types coupler's entry point runs (FUNCTION_ACTION); it refuses the others. */
const COUPLER_STEPS = ['federated_compute', 'central_compute'];
const ARGUMENT_TYPES = ['column', 'column_list', 'string', 'string_list', 'integer', 'integer_list', 'float', 'float_list', 'boolean', 'json', 'organization', 'organization_list'];
const ALGORITHM_FIELDS = ['name', 'description', 'image', 'partitioning', 'vantage6_version', 'code_url', 'documentation_url', 'submission_comments', 'functions'];
const FUNCTION_FIELDS = ['name', 'description', 'step_type', 'display_name', 'standalone', 'databases', 'arguments', 'ui_visualizations'];
const ARGUMENT_FIELDS = ['name', 'description', 'display_name', 'type', 'allowed_values', 'has_default_value', 'default_value', 'conditional_on', 'conditional_operator', 'conditional_value', 'is_frontend_only'];
const DATABASE_FIELDS = ['name', 'description', 'multiple'];

type Json = Record<string, unknown>;

function isInt(s: string): boolean {
  return /^[+-]?\d+$/.test(s.trim());
}
function isFloat(s: string): boolean {
  return s.trim() !== '' && Number.isFinite(Number(s));
}

/** The store's rules for one description: a list of what it would refuse (empty: accepted). */
function storeErrors(d: Json): string[] {
  const errors: string[] = [];
  const fields = (o: Json, allowed: string[], where: string): void => {
    for (const k of Object.keys(o)) if (!allowed.includes(k)) errors.push(`${where}: unknown field "${k}"`);
  };
  const str = (o: Json, k: string, where: string, required: boolean): void => {
    if (o[k] === undefined) {
      if (required) errors.push(`${where}.${k}: missing`);
    } else if (typeof o[k] !== 'string') errors.push(`${where}.${k}: not a string`);
  };
  fields(d, ALGORITHM_FIELDS, 'algorithm');
  for (const k of ['name', 'image', 'partitioning', 'vantage6_version', 'code_url']) str(d, k, 'algorithm', true);
  for (const k of ['description', 'documentation_url', 'submission_comments']) str(d, k, 'algorithm', false);
  if (typeof d.partitioning === 'string' && !PARTITIONING.includes(d.partitioning)) errors.push(`algorithm.partitioning: not one of ${PARTITIONING.join(', ')}`);
  if (!Array.isArray(d.functions)) errors.push('algorithm.functions: missing');
  for (const [i, f] of ((d.functions as Json[] | undefined) ?? []).entries()) {
    const where = `functions[${i}]`;
    fields(f, FUNCTION_FIELDS, where);
    str(f, 'name', where, true);
    str(f, 'description', where, false);
    str(f, 'display_name', where, false);
    if (typeof f.step_type !== 'string' || !STEP_TYPES.includes(f.step_type)) errors.push(`${where}.step_type: not one of the step types`);
    if (f.standalone !== undefined && typeof f.standalone !== 'boolean') errors.push(`${where}.standalone: not a boolean`);
    for (const [j, db] of ((f.databases as Json[] | undefined) ?? []).entries()) {
      fields(db, DATABASE_FIELDS, `${where}.databases[${j}]`);
      str(db, 'name', `${where}.databases[${j}]`, true);
      if (db.multiple !== undefined && typeof db.multiple !== 'boolean') errors.push(`${where}.databases[${j}].multiple: not a boolean`);
    }
    const args = (f.arguments as Json[] | undefined) ?? [];
    const names = args.map((a) => a.name);
    if (new Set(names).size !== names.length) errors.push(`${where}: All arguments must have a unique name`);
    for (const [j, a] of args.entries()) {
      const at = `${where}.arguments[${j}]`;
      fields(a, ARGUMENT_FIELDS, at);
      str(a, 'name', at, true);
      str(a, 'default_value', at, false);
      const type = a.type;
      if (typeof type !== 'string' || !ARGUMENT_TYPES.includes(type)) {
        errors.push(`${at}.type: not one of the argument types`);
        continue;
      }
      const def = a.default_value as string | undefined;
      if (def && a.has_default_value !== true) errors.push(`${at}: Default value cannot be given if has_default_value is False`);
      if (a.conditional_on !== undefined && a.has_default_value !== true) errors.push(`${at}: conditional without a default`);
      if (def) {
        const list = (): unknown[] | undefined => {
          try {
            const v = JSON.parse(def) as unknown;
            return Array.isArray(v) ? v : undefined;
          } catch {
            return undefined;
          }
        };
        const ok =
          type === 'integer' || type === 'organization'
            ? isInt(def)
            : type === 'float'
              ? isFloat(def)
              : type === 'boolean'
                ? ['true', 'false', '1', '0'].includes(def.toLowerCase())
                : type === 'json'
                  ? (() => {
                      try {
                        JSON.parse(def);
                        return true;
                      } catch {
                        return false;
                      }
                    })()
                  : type === 'string_list' || type === 'column_list'
                    ? list() !== undefined
                    : type === 'integer_list' || type === 'organization_list'
                      ? (list()?.every((v) => isInt(String(v))) ?? false)
                      : type === 'float_list'
                        ? (list()?.every((v) => isFloat(String(v))) ?? false)
                        : true;
        if (!ok) errors.push(`${at}: default value does not match type ${type}`);
      }
      if (a.allowed_values !== undefined) {
        const allowed = a.allowed_values as unknown[];
        for (const v of allowed) {
          if (typeof v !== 'string' && typeof v !== 'number') errors.push(`${at}.allowed_values: Values should be str, int or float`);
          else if (type === 'integer' && !isInt(String(v))) errors.push(`${at}.allowed_values: not integers`);
          else if (type === 'float' && !isFloat(String(v))) errors.push(`${at}.allowed_values: not floats`);
        }
        if (def && !allowed.includes(def)) errors.push(`${at}: Default value is not one of the allowed values`);
      }
    }
  }
  return errors;
}

const examples = readdirSync(EXAMPLES, { withFileTypes: true })
  .filter((e) => e.isDirectory() && !e.name.startsWith('_') && existsSync(join(EXAMPLES, e.name, 'algorithm-store.json')))
  .map((e) => e.name);

test('the examples with an image and a federated method have a store description', () => {
  expect(examples.sort()).toEqual(expect.arrayContaining(['central', 'histogram', 'mean-variance']));
});

test('the rules themselves refuse what the store refuses', () => {
  const fn = (args: Json[], extra: Json = {}): Json => ({ name: 'a', image: 'i', partitioning: 'horizontal', vantage6_version: '5.0', code_url: 'c', functions: [{ name: 'f', step_type: 'federated_compute', arguments: args, ...extra }] });
  expect(storeErrors(fn([]))).toEqual([]);
  expect(storeErrors({ ...fn([]), partitioning: 'diagonal' })).toEqual(['algorithm.partitioning: not one of horizontal, vertical']);
  expect(storeErrors(fn([], { step_type: 'compute' }))).toEqual(['functions[0].step_type: not one of the step types']);
  expect(storeErrors(fn([{ name: 'x', type: 'number' }]))).toEqual(['functions[0].arguments[0].type: not one of the argument types']);
  expect(storeErrors(fn([{ name: 'x', type: 'integer', default_value: '3' }]))).toEqual(['functions[0].arguments[0]: Default value cannot be given if has_default_value is False']);
  expect(storeErrors(fn([{ name: 'x', type: 'integer', has_default_value: true, default_value: '3.5' }]))).toEqual(['functions[0].arguments[0]: default value does not match type integer']);
  expect(storeErrors(fn([{ name: 'x', type: 'float_list', has_default_value: true, default_value: '[1, "a"]' }]))).toEqual(['functions[0].arguments[0]: default value does not match type float_list']);
  expect(storeErrors(fn([{ name: 'x', type: 'string', has_default_value: true, default_value: 'c', allowed_values: ['a', 'b'] }]))).toEqual(['functions[0].arguments[0]: Default value is not one of the allowed values']);
  expect(storeErrors(fn([{ name: 'x', type: 'string' }, { name: 'x', type: 'string' }]))).toEqual(['functions[0]: All arguments must have a unique name']);
  expect(storeErrors(fn([{ name: 'x', type: 'string', kind: 'y' }]))).toEqual(['functions[0].arguments[0]: unknown field "kind"']);
});

describe.each(examples)('examples/%s/algorithm-store.json', (example) => {
  const description = (): Json => JSON.parse(readFileSync(join(EXAMPLES, example, 'algorithm-store.json'), 'utf8')) as Json;
  const functions = (): Json[] => description().functions as Json[];

  test('the store would accept it (input_schema.py rules)', () => {
    expect(storeErrors(description())).toEqual([]);
  });

  test('its image is the tag the example\'s Dockerfile builds', () => {
    const dockerfile = readFileSync(join(EXAMPLES, example, 'Dockerfile'), 'utf8');
    const tag = new RegExp(`docker build -t (\\S+) examples/${example}\\b`).exec(dockerfile)?.[1];
    expect(description().image).toBe(tag);
  });

  test('every function is a method the module exports (or the built-in key exchange), of a step type coupler runs; every argument is a kwarg the module reads', async () => {
    const mod = (await import(join(EXAMPLES, example, 'algorithm.ts'))) as AlgorithmModule;
    const methods = [...listMethods(mod).keys(), KEY_EXCHANGE_METHOD];
    const source = readFileSync(join(EXAMPLES, example, 'algorithm.ts'), 'utf8');
    const forwardsTransport = source.includes('TRANSPORT_KWARGS');
    for (const f of functions()) {
      expect({ name: f.name, exported: methods.includes(f.name as string) }).toEqual({ name: f.name, exported: true });
      expect({ name: f.name, step: COUPLER_STEPS.includes(f.step_type as string) }).toEqual({ name: f.name, step: true });
      for (const a of (f.arguments as Json[] | undefined) ?? []) {
        const name = a.name as string;
        const read = source.includes(`'${name}'`) || source.includes(`kwargs.${name}`) || (forwardsTransport && Object.values(TRANSPORT_KWARGS).includes(name));
        expect({ fn: f.name, argument: name, read }).toEqual({ fn: f.name, argument: name, read: true });
      }
    }
    // A function a user starts on its own (standalone) is what the UI offers; the rest are subtasks.
    expect(functions().some((f) => f.standalone !== false)).toBe(true);
  });
});
