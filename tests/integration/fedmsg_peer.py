"""A fedmsg peer, run by the interpreter of the fedmsg virtualenv (``.venv-fedmsg``), never imported.

    fedmsg_peer.py publish CONFIG.json COUNT   publish COUNT signed git.receive messages with fedmsg.publish
    fedmsg_peer.py tail CONFIG.json COUNT      consume with fedmsg.tail_messages (signatures validated),
                                               print one JSON line per message with fedmsg.crypto.validate's
                                               verdict, and stop after COUNT messages
    fedmsg_peer.py validate CONFIG.json MSGS.json  print fedmsg.crypto.validate's verdict on each message
    fedmsg_peer.py bench CONFIG.json MSGS.json  time fedmsg.publish (signing) of each body in MSGS.json

CONFIG.json holds fedmsg configuration keys (endpoints, name, ssldir, certnames, ca_cert_location...)
and, for ``publish``, ``push`` (repo, rev, branch) for the bodies.
"""

import json
import os
import statistics
import sys
import time

import fedmsg
import fedmsg.config
import fedmsg.crypto


def validate(config, messages_path):
    with open(messages_path) as handle:
        messages = json.load(handle)
    print(json.dumps([fedmsg.crypto.validate(message, **config) for message in messages]))


def _config(path):
    """fedmsg's configuration as fedmsg loads it: a ``fedmsg-config.py`` in the working directory."""
    with open(path) as handle:
        extra = json.load(handle)
    os.chdir(os.path.dirname(os.path.abspath(path)))
    with open("fedmsg-config.py", "w") as handle:
        handle.write(f"config = {extra!r}\n")
    return fedmsg.config.load_config([], None)


def publish(config, count):
    push = config["push"]
    fedmsg.init()
    for number in range(count):
        commit = {
            "username": "alice", "name": "Alice", "email": "alice@example.org", "agent": "alice",
            "repo": push["repo"], "rev": push["revs"][number], "branch": push["branch"], "namespace": "rpms",
            "path": "/srv/git/repositories/rpms/{}.git".format(push["repo"]), "summary": "Update",
            "message": "Update\n", "seen": False,
            "stats": {"files": {}, "total": {"deletions": 0, "files": 0, "additions": 0, "lines": 0}},
        }
        fedmsg.publish(topic="receive", modname="git", msg={"commit": commit})
    time.sleep(config.get("linger_after", 1.0))


def tail(config, count):
    fedmsg.init()
    for seen, (_name, _endpoint, topic, message) in enumerate(fedmsg.tail_messages(), start=1):
        valid = fedmsg.crypto.validate(message, **config)
        print(json.dumps({"topic": topic, "valid": valid, "msg_id": message.get("msg_id"),
                          "username": message.get("username")}), flush=True)
        if seen >= count:
            return


def bench(config, messages_path):
    with open(messages_path) as handle:
        bodies = json.load(handle)
    fedmsg.init()
    rounds = []
    for _ in range(config.get("rounds", 5)):
        start = time.perf_counter()
        for topic, body in bodies:
            fedmsg.publish(topic=topic, msg=body, modname="ci")
        rounds.append(len(bodies) / (time.perf_counter() - start))
    print(json.dumps({"median": statistics.median(rounds), "rounds": rounds}))


if __name__ == "__main__":
    command, config_path, argument = sys.argv[1:4]
    loaded = _config(config_path)
    if command == "publish":
        publish(loaded, int(argument))
    elif command == "tail":
        tail(loaded, int(argument))
    elif command == "validate":
        validate(loaded, argument)
    elif command == "bench":
        bench(loaded, argument)
    else:
        sys.exit(f"unknown command {command!r}")
