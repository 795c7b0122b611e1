/**
 * One measured read for `npm run bench -- data`, in a fresh Node process that loads the built
 * package (dist/vantage6.js) as an algorithm image does. Prints one JSON line: the read's time
 * (including the sums), the process's peak resident memory (VmHWM, which includes the Node
 * runtime), the CPU time of the read (user + system, all threads: less sensitive to other load
 * than the wall time), and the sums, so the parent can check every variant read the same numbers.
 *
 *   node bench/data/child.cjs <dist/vantage6.js> <variant> <file> <column,column>
 *
 * variants: columns (readParquetColumns + numericColumn), rows (readParquetFile with `columns` +
 * numericColumn), rows-all (readParquetFile of every column, today's readStationTable default),
 * idle (load the package, read nothing: the runtime's own share of the peak).
 */
'use strict';
const { readFileSync } = require('node:fs');

function peakRssMb() {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function main() {
  const [dist, variant, file, list] = process.argv.slice(2);
  const v6 = require(dist);
  const columns = list.split(',');
  const sums = {};
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  if (variant === 'columns') {
    const table = await v6.readParquetColumns(file, { columns });
    for (const c of columns) {
      const { values, missing } = v6.numericColumn(table, c);
      let s = 0;
      for (let i = 0; i < values.length; i++) s += values[i];
      sums[c] = { sum: s, count: values.length, missing };
    }
  } else if (variant === 'rows' || variant === 'rows-all') {
    const table = await v6.readParquetFile(file, variant === 'rows' ? { columns } : {});
    for (const c of columns) {
      const { values, missing } = v6.numericColumn(table, c);
      let s = 0;
      for (const x of values) s += x;
      sums[c] = { sum: s, count: values.length, missing };
    }
  } else if (variant === 'csv' || variant === 'csv-columns') {
    const table = await v6.readCsvFile(file, variant === 'csv-columns' ? { columns } : {});
    for (const c of columns) {
      const { values, missing } = v6.numericColumn(table, c);
      let s = 0;
      for (const x of values) s += x;
      sums[c] = { sum: s, count: values.length, missing };
    }
  } else if (variant !== 'idle') throw new Error(`unknown variant ${variant}`);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`${JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, peakMb: peakRssMb(), sums })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
