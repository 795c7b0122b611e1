"""One measured pandas read for `npm run bench -- data` (run only when pandas and a Parquet
engine are installed). Prints one JSON line like child.cjs: the read's time including the sums,
its CPU time, the process's peak resident memory (ru_maxrss), and the sums.

    python3 bench/data/pandas.py <pandas|pandas-all> <file> <column,column>
"""
import json
import resource
import sys
import time

import pandas as pd

variant, path, names = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
frame = pd.read_parquet(path, columns=names if variant == "pandas" else None)
sums = {}
for name in names:
    column = frame[name]
    sums[name] = {"sum": float(column.sum()), "count": int(column.count()), "missing": int(column.isna().sum())}
ms = (time.perf_counter() - t0) * 1000
r1 = resource.getrusage(resource.RUSAGE_SELF)
cpu_ms = (r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime) * 1000
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"ms": ms, "cpuMs": cpu_ms, "peakMb": peak_mb, "sums": sums}))
