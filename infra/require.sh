#!/usr/bin/env bash
# Make sure this machine has what infra/infra.sh needs (a Java 17 runtime and Maven), what the tests' real
# JavaScript client needs (Node.js and npm, for masto.js), and Prometheus (its promtool tests the alerts; the
# server is `make prometheus`).
# Installs them with apt-get when missing (as root, or via sudo), otherwise says what
# to install. A no-op when both are present. Safe to run in CI (no prompts, no TTY).
set -euo pipefail

say() { printf 'require: %s\n' "$*"; }
die() { printf 'require: ERROR: %s\n' "$*" >&2; exit 1; }

java_major() {
  local java=$1 v
  v=$("$java" -XshowSettings:properties -version 2>&1 |
    awk -F'= ' '/java.specification.version/ {print $2; exit}')
  echo "${v#1.}"
}

have_java17() {
  local java
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/java ]]; then
    java=$JAVA_HOME/bin/java
  else
    java=$(command -v java 2>/dev/null) || return 1
  fi
  [[ $(java_major "$java") == 17 ]]
}

missing=()
have_java17 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

if ((${#missing[@]} == 0)); then
  say "java 17, mvn, node, npm and promtool present"
  exit 0
fi

say "missing: ${missing[*]}"
command -v apt-get >/dev/null 2>&1 ||
  die "no apt-get here: install a Java 17 runtime, Maven 3.8+, Node.js, npm and Prometheus (promtool) yourself (or set JAVA_HOME to a JDK 17)"
sudo=()
if ((EUID != 0)); then
  command -v sudo >/dev/null 2>&1 || die "not root and no sudo: run as root: apt-get install -y ${missing[*]}"
  sudo=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

if ! have_java17; then
  # another Java is first on PATH: point at the one just installed
  for d in /usr/lib/jvm/java-17-openjdk-*; do
    if [[ -x $d/bin/java ]]; then
      die "Java 17 is installed in $d but is not the default java: export JAVA_HOME=$d (or update-alternatives --config java)"
    fi
  done
  die "Java 17 still not found after installing openjdk-17-jre-headless"
fi
command -v mvn >/dev/null 2>&1 || die "mvn still not found after installing maven"
say "installed: ${missing[*]}"
