#!/usr/bin/env bash
# release-notes.sh TAG IMAGES.tsv: prints a release's notes (markdown) on stdout: every image by
# digest with what it carries, the image `create` uses by default for each PostgreSQL major, how to
# verify the signatures, and the files. IMAGES.tsv has one line per image, tab-separated:
#   REF  DIGEST  WHAT-IT-CARRIES
#   ghcr.io/kubectl-pgbackrest/postgres:17-v0.3.0  sha256:…  PostgreSQL 17.6, pgBackRest 2.55.1
# Called by .github/workflows/release.yml; runs anywhere with bash (try it with any TSV).
#
# SIGNER_IDENTITY: the certificate identity cosign signed with (default: the release workflow of
# the main repository at refs/tags/TAG). GO_VERSION: the Go that built the archives (go1.26.8), if known.
set -euo pipefail

tag=${1:?usage: release-notes.sh TAG IMAGES.tsv}
images=${2:?usage: release-notes.sh TAG IMAGES.tsv}
repo=https://github.com/kubectl-pgbackrest/kubectl-pgbackrest
SIGNER_IDENTITY=${SIGNER_IDENTITY:-$repo/.github/workflows/release.yml@refs/tags/$tag}
GO_VERSION=${GO_VERSION:-}
issuer=https://token.actions.githubusercontent.com

die() { printf 'release-notes: error: %s\n' "$*" >&2; exit 1; }
[ -s "$images" ] || die "$images is missing or empty"

rows=
defaults=
example=
while IFS=$'\t' read -r ref digest carries; do
  [[ $digest =~ ^sha256:[0-9a-f]{64}$ ]] || die "$images: bad digest for $ref: $digest"
  [[ $ref == *:"$tag" || $ref == *:*-"$tag" ]] || die "$images: $ref is not tagged for $tag"
  rows+="| \`$ref\` | \`$digest\` | $carries |"$'\n'
  # postgres:<major>-<tag> is the default image of `create --pg-version <major>`.
  if [[ $ref == */postgres:*-"$tag" ]]; then
    major=${ref##*/postgres:}
    major=${major%%-*}
    defaults+="- \`--pg-version $major\`: \`$ref\`"$'\n'
    example=$ref # the last one: the newest major, create's default
  fi
done <"$images"
[ -n "$example" ] || die "$images lists no postgres image"

cat <<NOTES
## Images

Built from [manifests/image/Dockerfile]($repo/blob/$tag/manifests/image/Dockerfile) for
linux/amd64 and linux/arm64, and signed with cosign (keyless, by this release's workflow).
Tags can be moved; the digests below cannot.

| image | digest | carries |
| --- | --- | --- |
${rows}
\`kubectl pgbackrest create\` of this release uses, with no \`--image\`:

${defaults}
\`images.txt\` lists every image as \`REF DIGEST\`, for mirroring them into your own registry
([docs/install.md]($repo/blob/$tag/docs/install.md#the-images)).

Verify a signature (any image above):

\`\`\`sh
cosign verify $example \\
  --certificate-identity $SIGNER_IDENTITY \\
  --certificate-oidc-issuer $issuer
\`\`\`

## Files

- \`kubectl-pgbackrest_<os>_<arch>.tar.gz\` / \`.zip\`: the plugin (linux, darwin: amd64, arm64;
  windows: amd64), with LICENSE and the completion shim
- \`checksums.txt\`: their sha256 (\`sha256sum --ignore-missing -c checksums.txt\`)
- \`pgbackrest.yaml\`: the krew manifest (\`kubectl krew install --manifest=pgbackrest.yaml\`)
- \`images.txt\`: the images by digest
NOTES
if [ -n "$GO_VERSION" ]; then
  cat <<BUILT

The archives were built with $GO_VERSION: \`make dist VERSION=$tag\` at this tag, with that Go,
rebuilds them byte for byte.
BUILT
fi
