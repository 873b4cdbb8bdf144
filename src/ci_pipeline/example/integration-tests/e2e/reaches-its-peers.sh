#!/bin/sh
# Every other machine answers ping and serves HTTP, as the nodes of a cluster must.
status=0
for peer in $E2E_PEERS; do
    state=$(printf 'GET /state HTTP/1.0\r\n\r\n' | nc -w 5 "$peer" 8080 | tail -n 1)
    if ping -c 2 -W 3 "$peer" >/dev/null && [ -n "$state" ]; then
        echo "$peer answers (state $state)"
    else
        echo "$peer cannot be reached"
        status=1
    fi
done
exit $status
