#!/usr/bin/env bash
# Step 3: the central example's images run as a vantage6 4.14 node runs algorithm containers
# (v6-node.ts), three stations, three times: the root image on a stock node's files, the non-root
# image on a stock node's files (expected: refused cleanly before the method runs), and the
# non-root image with OUTPUT_FILE and TEMPORARY_FOLDER given to uid 1000 (as on Swarm/Kubernetes).
# Summaries (JSON) in $TRIAL/v6-<variant>.json, container logs in $TRIAL/v6-<variant>.err.
#   sudo scripts/image-trial/run-v6.sh          (after build.sh)
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
need_root
EXAMPLE=${EXAMPLE:-central}
STATIONS=${STATIONS:-3}
cd "$REPO"
status=0
for v in "root coupler-$EXAMPLE:latest stock" "nonroot-stock coupler-$EXAMPLE:nonroot stock" "nonroot-uid1000 coupler-$EXAMPLE:nonroot uid1000"; do
  set -- $v
  rm -rf "$TRIAL/v6-$1"
  log "$1: $2, task files $3"
  npx tsx scripts/image-trial/v6-node.ts --image "$2" --files "$3" --stations "$STATIONS" --work "$TRIAL/v6-$1" > "$TRIAL/v6-$1.json" 2> "$TRIAL/v6-$1.err" || status=1
  node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(`${process.argv[2]}: central exit ${d.central.exitCode}; ` + JSON.stringify(d.checks));
    for (const r of d.runs) console.log(`  run ${r.seq} org ${r.org} task ${r.task} ${r.method}: exit ${r.exit}, output uid ${r.outputStat.uid} mode ${r.outputStat.mode}, TEMPORARY_FOLDER after: ${r.tmpAfter.join("; ") || "-"}`);
    if (d.central.exitCode !== 0) console.log(d.central.stderrTail.split("\n").filter((l) => l.startsWith("[coupler]")).join("\n"));
  ' "$TRIAL/v6-$1.json" "$1" || status=1
done
exit $status
