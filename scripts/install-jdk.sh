#!/usr/bin/env bash
# A JDK 17+ for Deephaven's embedded server (tests/thirdparty), from Debian's packages.
# deephaven-server starts its JVM in the Python process and finds it through JAVA_HOME or the
# `java` on PATH. Idempotent and quiet; needs root on Debian/Ubuntu.
set -euo pipefail
java_major() {
    # `java -version` prints e.g. 'openjdk version "17.0.15" 2025-04-15' (or "1.8.0_..." before 9).
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)[."].*/\1/p' | head -n 1
}
if command -v java >/dev/null 2>&1 && [ "$(java_major)" -ge 17 ] 2>/dev/null; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Debian 12 has JDK 17; a release without it has a newer default JDK, which Deephaven takes too.
package=openjdk-17-jdk-headless
if ! apt-cache show "$package" >/dev/null 2>&1; then
    package=default-jdk-headless
fi
apt-get install -y -qq --no-install-recommends "$package" >/dev/null
test "$(java_major)" -ge 17
