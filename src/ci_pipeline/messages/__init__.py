"""The message contract: topics, the fedmsg envelope, one JSON Schema per topic, body builders."""
