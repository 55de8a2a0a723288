"""Upcasters: small functions that lift an old event version's data one version up.

When the codec meets bytes written with an older ``schema_version`` than the model's, it
decodes them with the writer's own schema, then applies ``upcast_v1_v2``,
``upcast_v2_v3``... in a chain up to the model's version, then validates the model.
Register an upcaster next to the model whose version it bumps::

    @UPCASTERS.register("CaseSubmitted", from_version=1)
    def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        data["channel"] = data.pop("source")
        return data
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from schemas.errors import UpcastError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Takes the data of version N (a dict it may change) and returns the data of N + 1."""


class Upcasters:
    """Upcasters keyed by event type and the version they upgrade from."""

    def __init__(self) -> None:
        self._chain: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Return a decorator registering an upcaster from ``from_version`` to the next.

        Raises:
            ValueError: If one is already registered for this type and version.
        """

        def decorate(upcaster: Upcaster) -> Upcaster:
            self.add(event_type, from_version, upcaster)
            return upcaster

        return decorate

    def add(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Register ``upcaster`` from ``from_version`` to ``from_version + 1``.

        Raises:
            ValueError: If one is already registered for this type and version.
        """
        key = (event_type, from_version)
        if key in self._chain:
            raise ValueError(f"an upcaster from {event_type} v{from_version} already exists")
        self._chain[key] = upcaster

    def upcast(
        self, event_type: str, data: dict[str, Any], from_version: int, to_version: int
    ) -> dict[str, Any]:
        """Apply the chain of upcasters from ``from_version`` up to ``to_version``.

        Raises:
            UpcastError: If a link of the chain is missing or an upcaster fails.
        """
        for version in range(from_version, to_version):
            upcaster = self._chain.get((event_type, version))
            if upcaster is None:
                raise UpcastError(
                    f"cannot read {event_type} v{from_version} as v{to_version}: "
                    f"no upcaster from v{version} to v{version + 1}"
                )
            try:
                data = upcaster(data)
            except Exception as exc:
                # An upcaster is plain code over untrusted old data; whatever it raises,
                # this message cannot be decoded, which callers handle as one error type.
                raise UpcastError(
                    f"upcasting {event_type} v{version} to v{version + 1} failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
        return data


UPCASTERS = Upcasters()
"""The upcasters of the event catalog; codecs use them unless given others."""
