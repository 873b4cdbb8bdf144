#!/bin/sh
# Conformance of the example cluster: from every node, every node (itself included) answers by
# name on port 80 with its own name. One JUnit test case per pair, written to $E2E_JUNIT.
set -u
cases=""
total=0
failures=0
# Run ssh with E2E_SSH's options and the given arguments (E2E_SSH is a shell command line).
on_node() {
    eval "$E2E_SSH"' "$@"'
}
xml_escape() {
    sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'
}
while read -r name port _ address; do
    while read -r peer _ _; do
        total=$((total + 1))
        got=$(on_node -p "$port" "$address" \
            "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $peer 80 | tail -n 1" </dev/null 2>&1)
        case="<testcase classname=\"reach\" name=\"$name-serves-$peer\""
        if [ "$got" = "$peer" ]; then
            cases="$cases$case/>"
        else
            failures=$((failures + 1))
            said=$(printf '%s' "$got" | xml_escape)
            cases="$cases$case><failure message=\"$name did not get $peer's name from http://$peer/\">$said</failure></testcase>"
        fi
    done < "$E2E_MACHINES_FILE"
done < "$E2E_MACHINES_FILE"
printf '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="cluster" tests="%s" failures="%s">%s</testsuite>\n' \
    "$total" "$failures" "$cases" > "$E2E_JUNIT"
