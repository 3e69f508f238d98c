"""A deployment of prefect.yaml as code names it: its flow, its name, and a run's parameters
bound to the flow's own signature, so that a renamed parameter fails where the run is built,
not in the run."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

from prefect import Flow


@dataclass(frozen=True)
class Deployment:
    flow: Flow
    deployment: str  # its name in prefect.yaml

    @property
    def name(self) -> str:
        """The name Prefect finds it by: "flow/deployment"."""
        return f"{self.flow.name}/{self.deployment}"

    def parameters(self, **values: Any) -> dict[str, Any]:
        """`values` as a run's parameters, by the flow's own names; a name the flow does not
        take raises TypeError."""
        try:
            bound = inspect.signature(self.flow.fn).bind_partial(**values)
        except TypeError as error:
            raise TypeError(f"flow {self.flow.name}: {error}") from None
        return dict(bound.arguments)
