#!/bin/sh
# The applications of the image run on the booted machine.
set -e
test "$(ci-hello)" = "Hello, world!"
test "$(ci-calc '6 * 7')" = 42
echo "ci-hello and ci-calc work on $E2E_MACHINE"
