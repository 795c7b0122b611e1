#!/usr/bin/env bash
# README's "an algorithm adds its dependencies the usual way" for real: an algorithm image FROM
# coupler-base (and FROM coupler-base:nonroot) whose Dockerfile is README's snippet verbatim
# (COPY package.json package-lock.json, RUN npm ci --omit=dev, COPY the module, ENV PKG_NAME),
# with one small dependency (ms), then a run of its method `check`, which imports coupler,
# coupler/vantage6 and the dependency. Generated files live in $TRIAL/app-deps only.
#   sudo scripts/image-trial/app-deps.sh         (after build.sh)
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
need_root
D="$TRIAL/app-deps"
rm -rf "$D" && mkdir -p "$D"
cd "$D"
printf '%s\n' '{"name": "coupler-algorithm", "private": true, "dependencies": {"ms": "2.1.3"}}' > package.json
npm install --package-lock-only --ignore-scripts --no-audit --no-fund >/dev/null
cat > algorithm.mjs <<'JS'
import { secureSum } from 'coupler';
import { joinPeerGroup } from 'coupler/vantage6';
import ms from 'ms';
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
export async function check() {
  return { ms: ms('2h'), secureSum: typeof secureSum, joinPeerGroup: typeof joinPeerGroup,
    coupler: require.resolve('coupler'), msPath: require.resolve('ms'), uid: process.getuid() };
}
JS
# README's snippet, verbatim apart from the FROM tag.
for tag in latest nonroot; do
  cat > "Dockerfile.$tag" <<DF
FROM coupler-base:$tag
COPY --chown=node:node package.json package-lock.json /app/
RUN npm ci --omit=dev
COPY --chown=node:node algorithm.mjs /app/algorithm.mjs
ENV PKG_NAME=/app/algorithm.mjs
DF
done
TRUST=()
[ -d "$TRIAL/trust" ] && TRUST=(-v "$TRIAL/trust:/usr/local/etc:ro")
for tag in latest nonroot; do
  log "app-deps FROM coupler-base:$tag"
  "${BUILDAH[@]}" build --pull=never --isolation chroot --layers=true "${TRUST[@]}" -f "Dockerfile.$tag" -t "coupler-app-deps:$tag" . 2>&1 | tee "$TRIAL/logs/app-deps-$tag.log" | tail -4
  FILES=$([ $tag = nonroot ] && echo uid1000 || echo stock) METHOD=check "$HERE/check-image.sh" "coupler-app-deps:$tag"
done
