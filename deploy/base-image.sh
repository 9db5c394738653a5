#!/usr/bin/env bash
# base-image.sh: builds a Debian 12 base image from Debian's packages with
# mmdebstrap and imports it into Docker, for machines that reach Debian's
# mirrors but no container registry. Prints the image's name.
#
#   deploy/base-image.sh            -> chat-base/debian:bookworm-slim
#   docker build -f deploy/Dockerfile --build-arg BASE=chat-base/debian:bookworm-slim -t chat .
#   CHAT_BASE_IMAGE=chat-base/debian:bookworm-slim docker compose -f deploy/docker-compose.yml up --build
#
# Needs root (mmdebstrap) and a running Docker engine. Does nothing when the
# image exists already; CHAT_REBUILD_BASE=1 makes it again.
set -euo pipefail
image=${CHAT_BASE_TAG:-chat-base/debian:bookworm-slim}
mirror=${CHAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${CHAT_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

if [ "${CHAT_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
}
echo "base-image: building $image with mmdebstrap" >&2
# minbase: essential packages and apt, like the official -slim images;
# no documentation, apt lists dropped to keep it small.
mmdebstrap --variant=minbase --quiet \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
  bookworm - "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb $security bookworm-security main" |
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["bash"]' - "$image" >/dev/null
echo "$image"
