"""Forge webhooks: a push a forge announces over HTTP becomes the same push the trigger reads off a bus.

:mod:`.signatures` checks each forge's credential, :mod:`.forges` reads each forge's push event, and
:func:`.receive.read_hook` ties them together for the web API (``/api/v1/hooks/{forge}``).
"""
