#!/usr/bin/env bash
# Prints the absolute path of a directory holding `pulumi`, `pulumi-language-nodejs` and
# `pulumi-resource-pulumi-nodejs`, ready to put first on PATH.
#
# A `pulumi` already on PATH wins (a platform engineer's machine). Otherwise the CLI and the Node.js language host are
# built from their Go modules into a git-ignored cache, `.cache/pulumi-cli/<version>/`, reused while the pinned
# version stays the same. Why Go modules: the machines of this project reach the Go module proxy and the npm registry,
# not Pulumi's download site, and `go install pkg@v` is refused because pkg/go.mod carries replace directives, so a
# small wrapper module names both main packages as tools.
#
# Progress goes to stderr; stdout carries only the directory. RENEWA_PULUMI_CLI_REBUILD=1 forces a rebuild;
# RENEWA_PULUMI_FROM_PATH=0 ignores a `pulumi` on PATH.
set -euo pipefail

# The one pin of the CLI, and of the Node.js language host. A newer CLI drives the pinned @pulumi/pulumi 3.248 SDK fine
# (the SDK feature-detects the engine). The language host has been a module of its own
# (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) since sdk v3.69, with no tags; the Go module
# proxy these machines reach serves none of its versions, so the host is built from the newest sdk/v3 module that still
# held it as a package. It only starts `node @pulumi/pulumi/cmd/run` (the SDK's own runner, which compiles the program
# with ts-node) and answers the engine's plugin questions; the protocol is additive, so the engine accepts it.
PULUMI_CLI_VERSION="3.260.0"
LANGUAGE_HOST_SDK_VERSION="3.68.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dynamic_host="$root/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
if [[ ! -x "$dynamic_host" ]]; then
  echo "pulumi-cli: $dynamic_host is missing; run 'npm ci' first" >&2
  exit 1
fi

if [[ "${RENEWA_PULUMI_FROM_PATH:-1}" != "0" ]] && on_path="$(command -v pulumi 2>/dev/null)"; then
  dir="$(cd "$(dirname "$(readlink -f "$on_path")")" && pwd)"
  if [[ -x "$dir/pulumi-language-nodejs" ]]; then
    echo "$dir"
    exit 0
  fi
fi

cache="$root/.cache/pulumi-cli/$PULUMI_CLI_VERSION"
bin="$cache/bin"
stamp="$bin/.built-$PULUMI_CLI_VERSION-$LANGUAGE_HOST_SDK_VERSION"
if [[ "${RENEWA_PULUMI_CLI_REBUILD:-0}" == "1" || ! -f "$stamp" ]]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "pulumi-cli: no 'pulumi' on PATH and no Go toolchain to build one. Install the Pulumi CLI, or Go 1.26+." >&2
    exit 1
  fi
  started=$SECONDS
  echo "pulumi-cli: building Pulumi CLI v$PULUMI_CLI_VERSION from Go modules into $cache (first time: about 10-15 minutes on 2 cores)" >&2
  rm -rf "$bin"
  mkdir -p "$bin"
  write_module() { # dir, module go.mod body
    mkdir -p "$1"
    printf '%s\n' "$2" >"$1/go.mod"
  }
  write_module "$cache/cli" "module example.invalid/pulumi-cli-build

go 1.26

tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_CLI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_CLI_VERSION
)

// pkg/go.mod replaces this module; a replace is not inherited by the module that requires pkg.
replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e"
  write_module "$cache/language-host" "module example.invalid/pulumi-language-nodejs-build

go 1.26

tool github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs

require github.com/pulumi/pulumi/sdk/v3 v$LANGUAGE_HOST_SDK_VERSION"
  build() { # module dir, version stamped into the binary, main package
    (
      cd "$1"
      export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw" GOTOOLCHAIN=local CGO_ENABLED=0
      go mod tidy >&2
      go build -trimpath -tags osusergo,grpcnotrace \
        -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$2" -o "$bin/" "$3" >&2
    )
  }
  build "$cache/language-host" "$LANGUAGE_HOST_SDK_VERSION" github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs
  build "$cache/cli" "$PULUMI_CLI_VERSION" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
  echo "$((SECONDS - started))" >"$cache/build-seconds"
  touch "$stamp"
  echo "pulumi-cli: built in $((SECONDS - started)) s" >&2
fi
# The dynamic-provider host is a script shipped with the SDK; the CLI finds bundled plugins next to its own binary.
cp -f "$dynamic_host" "$bin/pulumi-resource-pulumi-nodejs"
echo "$bin"
