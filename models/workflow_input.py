"""The base of every workflow's input (and of the MCIS workflow's Update argument).

Inputs are validated by pydantic wherever they are made: the CLI and Python clients that build
the model get a `ValidationError` before any workflow starts. A client that sends a raw mapping
instead (`client.start_workflow("McisWorkflow", {...})`, another SDK) gets it decoded inside the
workflow, where a plain `ValidationError` would fail the workflow's *task*, retried forever
with the workflow stuck Running. There an invalid input fails the *workflow* at once instead, as
a non-retryable `InvalidWorkflowInput` with one line naming the first problem.

A client refuses an input larger than `MAX_WORKFLOW_INPUT_BYTES` encoded before it starts the
workflow (`starter.errors.check_input_size`), rather than leave Temporal to refuse it.

Except for the state a workflow carries across continue-as-new (`carried` names that field):
if that no longer decodes (a release changed a model), failing would end a long-lived MCIS or
policy for good, while a failing task waits until the release is fixed or rolled back.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

from pydantic import BaseModel, GetCoreSchemaHandler, ValidationError
from pydantic_core import core_schema
from temporalio import workflow
from temporalio.exceptions import ApplicationError

INVALID_INPUT = "InvalidWorkflowInput"

MAX_WORKFLOW_INPUT_BYTES = 512 * 1024
"""The largest workflow input a client starts a workflow with, encoded (Temporal refuses a
payload over 2 MB and warns from 512 KiB; every continue-as-new carries it again)."""


def first_problem(exc: ValidationError) -> str:
    """`groups.0.count: Input should be greater than or equal to 1` (never the input value)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


def _fail_fast(
    model: str, carried: str | None, data: Any, inner: core_schema.ValidatorFunctionWrapHandler
) -> Any:
    try:
        return inner(data)
    except ValidationError as exc:
        if (carried and isinstance(data, dict) and data.get(carried)) or not in_sandbox():
            raise
        raise ApplicationError(
            f"invalid {model}: {first_problem(exc)}", type=INVALID_INPUT, non_retryable=True
        ) from None


def in_sandbox() -> bool:
    """Whether this runs inside a workflow (the sandbox decodes its input and Update args)."""
    return workflow.unsafe.in_sandbox()


class WorkflowInput(BaseModel):
    carried: ClassVar[str | None] = None
    """The field holding state carried across continue-as-new, if any."""

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """The model's whole schema (its own validators included) inside `_fail_fast`."""
        return core_schema.no_info_wrap_validator_function(
            partial(_fail_fast, cls.__name__, cls.carried), handler(source)
        )
