#!/usr/bin/env bash
# Builds Dockerfile.base for real with buildah (chroot isolation, vfs storage, --pull=never on
# the local node:26-slim from make-parent.sh): the root default as coupler-base, the non-root
# variant (--build-arg COUPLER_USER=node) as coupler-base:nonroot, and the example algorithm
# images FROM each (examples/$EXAMPLE, default central) as coupler-$EXAMPLE and coupler-$EXAMPLE:nonroot.
#   sudo scripts/image-trial/build.sh            # logs in $TRIAL/logs
# LAYERS=true (default) builds with --layers, so the second variant shows whether it reuses the
# first variant's cached steps.
source "$(dirname "$0")/lib.sh"
need_root
EXAMPLE=${EXAMPLE:-central}
LAYERS=${LAYERS:-true}
mkdir -p "$TRIAL/logs"
# This machine reaches npm's registry through a TLS proxy whose CA the host's npm is given
# (cafile / NODE_EXTRA_CA_CERTS). The RUN steps get that trust through a build-time volume only:
# a folder holding an npmrc (cafile=...) and the CA bundle, mounted over /usr/local/etc (npm's
# global config is <prefix>/etc/npmrc; the folder exists, empty, in the parent image, so no mount
# point is left behind: check-image.sh lists empty files under /usr/local/etc and /run).
TRUST=()
CA=${TRIAL_CAFILE:-$(npm config get cafile 2>/dev/null || true)}
[ -n "$CA" ] && [ "$CA" != null ] || CA=${NODE_EXTRA_CA_CERTS:-}
if [ -n "$CA" ] && [ -r "$CA" ]; then
  rm -rf "$TRIAL/trust" && mkdir -p "$TRIAL/trust"
  cp "$CA" "$TRIAL/trust/image-trial-ca.crt"
  printf 'cafile=/usr/local/etc/image-trial-ca.crt\n' > "$TRIAL/trust/npmrc"
  TRUST=(-v "$TRIAL/trust:/usr/local/etc:ro")
  log "RUN steps trust the host's npm CA bundle (build-time volume)"
fi
bud() { "${BUILDAH[@]}" build --pull=never --isolation chroot --layers="$LAYERS" "${TRUST[@]}" "$@"; }
cd "$REPO"
log "Dockerfile.base (root) -> coupler-base"
bud -f Dockerfile.base -t coupler-base . 2>&1 | tee "$TRIAL/logs/base-root.log" | tail -3
log "Dockerfile.base (COUPLER_USER=node) -> coupler-base:nonroot"
bud -f Dockerfile.base --build-arg COUPLER_USER=node -t coupler-base:nonroot . 2>&1 | tee "$TRIAL/logs/base-nonroot.log" | tail -3
for tag in latest nonroot; do
  # The example's Dockerfile says FROM coupler-base; the non-root one is built FROM the other tag
  # through a copy of the Dockerfile with only that line changed (nothing else is edited).
  df="$REPO/examples/$EXAMPLE/Dockerfile"
  if [ "$tag" = nonroot ]; then
    df="$TRIAL/Dockerfile.$EXAMPLE.nonroot"
    sed 's/^FROM coupler-base$/FROM coupler-base:nonroot/' "$REPO/examples/$EXAMPLE/Dockerfile" > "$df"
    grep -q '^FROM coupler-base:nonroot$' "$df"
  fi
  log "examples/$EXAMPLE FROM coupler-base:$tag -> coupler-$EXAMPLE:$tag"
  bud -f "$df" -t "coupler-$EXAMPLE:$tag" "$REPO/examples/$EXAMPLE" 2>&1 | tee "$TRIAL/logs/$EXAMPLE-$tag.log" | tail -3
done
"${BUILDAH[@]}" images
for img in coupler-base:latest coupler-base:nonroot "coupler-$EXAMPLE:latest" "coupler-$EXAMPLE:nonroot"; do
  "${BUILDAH[@]}" inspect --type image --format '{{.Docker.Config.User}} {{.Docker.Config.Entrypoint}} {{.Docker.Config.WorkingDir}} {{.Docker.Config.Labels}} {{.Docker.Config.ExposedPorts}}{{println}}' "$img" | sed "s|^|$img: |"
done
