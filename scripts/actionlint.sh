#!/usr/bin/env bash
# Prints the absolute path of an actionlint binary at the pinned version, ready to run.
#
# An `actionlint` on PATH at exactly that version wins. Otherwise it is built with `go install` (the machines of this
# project reach the Go module proxy, not GitHub's release downloads) into a git-ignored cache,
# `.cache/actionlint/<version>/`, reused while the pin stays the same. actionlint runs shellcheck on every `run:` script
# when a `shellcheck` is on PATH and skips that part silently when none is; the workflow test reports which.
#
# Progress goes to stderr; stdout carries only the path.
set -euo pipefail

ACTIONLINT_VERSION="1.7.7"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if on_path="$(command -v actionlint 2>/dev/null)" && [[ "$("$on_path" -version 2>/dev/null | head -n1)" == "v$ACTIONLINT_VERSION" ]]; then
  echo "$on_path"
  exit 0
fi

bin="$root/.cache/actionlint/$ACTIONLINT_VERSION"
if [[ ! -x "$bin/actionlint" ]]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "actionlint: neither actionlint $ACTIONLINT_VERSION nor Go is on PATH; install Go (https://go.dev/dl/) and run again" >&2
    exit 1
  fi
  echo "actionlint: building v$ACTIONLINT_VERSION into $bin (once)" >&2
  mkdir -p "$bin"
  GOBIN="$bin" GOFLAGS="${GOFLAGS:-} -trimpath" go install "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" >&2
fi
echo "$bin/actionlint"
