"""Flow parameters as the run form shows them and as a flow checks them itself.

Prefect's form reads each parameter's `= Field(default, description=...)`; plain types (an
empty text or list for "all", 0 for "the configured company") keep it from showing
"Property is type None". The flows do not rely on Prefect's own check, which is skipped
when "Validate parameters" is unchecked and otherwise fails with a traceback: `checked`
validates every value against the signature, and a bad one ends the run Failed with one
line naming the parameter and what it takes."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

from prefect import get_run_logger
from prefect.states import Failed, State
from pydantic import Field, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from contract_sync.errors import UserError

# Parameters several flows take, declared once.
COMPANY = Field(0, ge=0, description="ERP company number (Vista JCCo); 0: the configured one.")
REQUEST_ID = Field(
    "",
    description="Set by the web pages: the request of the signed-in user this run acts for, "
    "once; empty for a run started here.",
)


class BadParameter(UserError, ValueError):
    """A flow parameter with a value it cannot take."""


def checked(flow_function: Callable[..., Any], values: dict[str, Any]) -> dict[str, Any]:
    """`values` validated against `flow_function`'s signature; missing or null ones take
    their default. Raises BadParameter with one line."""
    hints = typing.get_type_hints(flow_function, include_extras=True)
    found = {}
    for name, parameter in inspect.signature(flow_function).parameters.items():
        default = parameter.default
        value = values.get(name, default)
        annotation = hints[name]
        if isinstance(default, FieldInfo):
            annotation = Annotated[annotation, default]
            if isinstance(value, FieldInfo) or value is None:  # null from a form: empty
                value = default.get_default(call_default_factory=True)
        try:
            found[name] = TypeAdapter(annotation).validate_python(value)
        except ValidationError as error:
            first = error.errors()[0]
            raise BadParameter(f"parameter {name}: {first['msg']} (given {value!r})") from None
    return found


def refused(error: UserError) -> State:
    """The run's end for a bad parameter or a refused request: Failed, with the one line,
    also in the log."""
    get_run_logger().error(str(error))
    return Failed(message=str(error))
