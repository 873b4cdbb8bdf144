#!/bin/sh
# The machine booted the deployment of the commit the image was made from (E2E_COMPOSE_REV).
for word in $(cat /proc/cmdline); do
    case "$word" in
        ostree=*) deployment=$(readlink -f "/sysroot${word#ostree=}") ;;
    esac
done
name=$(basename "${deployment:-none}")
echo "booted deployment ${name}, expected commit ${E2E_COMPOSE_REV}"
test "${name%.*}" = "$E2E_COMPOSE_REV"
