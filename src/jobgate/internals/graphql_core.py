"""graphql-core's internals, in one place: an executor that frees its per-request state.

Written against graphql-core 3.3 (``requirements.lock``); tests/internals checks the internals
used here against the installed version. ``[server] fast_paths = false`` uses graphql-core's
own executor instead.
"""

from __future__ import annotations

from typing import Any

from graphql.execution.executor import Executor

from graphql import ExecutionResult


class AcyclicExecutor(Executor[Any]):
    """graphql-core's executor, which lets go of its per-request state when the answer is built.

    It extends the plain ``Executor``, not the ``IncrementalExecutor`` that ``execute`` uses by
    default: that one prepares ``@defer``/``@stream`` delivery (groups, streams, execution-plan
    maps) for every request, and jobgate's schema declares neither directive, so a document
    using them fails validation first. ~32,000 CPU instructions a one-job request
    (bench.instructions --requests: Q1v -2.4 %, Q20v -0.9 %).

    graphql-core keeps ``GraphQLResolveInfoHelpers`` bound to the executor on the executor: a
    reference cycle, so everything a request's execution built (field plans, ref maps, the
    context and its DataLoader, the jobs) waited for the cyclic garbage collector instead of
    being freed when the request ended. Under load those collections were ~15 % of the CPU
    and the 100-300 ms pauses behind the p99s (measured with ``gc.callbacks``).

    ``answers``: error classes that are answers, not faults (a failed job lookup); subclasses
    name theirs.
    """

    answers: tuple[type[Exception], ...] = ()

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):  # nothing left to deliver incrementally
            del self.async_helpers
            for error in response.errors or ():
                # An answer's traceback (executor frames that hold the executor, another
                # cycle) is never logged, so it goes. Unexpected errors keep theirs for the
                # log line that reports them.
                if isinstance(error.original_error, self.answers):
                    error.__traceback__ = error.original_error.__traceback__ = None
        return response
