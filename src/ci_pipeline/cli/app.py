"""What commands share: the configuration, the store and the bus, opened on first use."""

from __future__ import annotations

from functools import cached_property

from ci_pipeline.bus.base import Bus
from ci_pipeline.config import Config, load_config
from ci_pipeline.store.db import Store, open_store


class App:
    """Lazily opened configuration, store and bus for one command."""

    def __init__(self, config_path: str | None = None) -> None:
        self._config_path = config_path

    @cached_property
    def config(self) -> Config:
        """The loaded configuration."""
        return load_config(self._config_path)

    @cached_property
    def store(self) -> Store:
        """The results store, migrated."""
        return open_store(self.config.store.url)

    @cached_property
    def bus(self) -> Bus:
        """The bus named by the configuration."""
        from ci_pipeline.bus import open_bus

        return open_bus(self.config.bus.url)

    def close(self) -> None:
        """Close what was opened."""
        if "bus" in self.__dict__:
            self.bus.close()
        if "store" in self.__dict__:
            self.store.close()
