"""The suites run in a helper process that loads Great Expectations while the run reads.

Loading GX costs about a second of the interpreter, which a run would spend after its ERP
read, before the first changed contract is checked. A large run (MIN_CONTRACTS in scope)
starts this helper when its scan finds the first changed contract without a kept verdict:
the helper loads GX meanwhile (on another core where the machine has one), then runs the
suites on the frames it is sent and sends back their Validation. It only computes:
verdicts are kept and reports written by the run, which ends its helper when its scan ends,
or as soon as its changes go beyond a group (it then validates them itself).

The run validates in its own process, as before, when the helper is not started (see
pace.Pace) and when the helper cannot start or stops (logged). A run killed outright
leaves its helper to end at its next read, on the closed pipe. The helper is `python -P -m`
this module, in a process group of its own (Ctrl-C is for the run), with its answers on a
channel of its own: a module-level call in the caller's main script never runs twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import subprocess
import sys
import traceback
from pathlib import Path

from contract_sync.errors import UserError
from contract_sync.model import ErpFrames, Validation
from contract_sync.stages.gx_import import great_expectations
from contract_sync.stages.validate import run_suites

MIN_CONTRACTS = 1_000  # in scope: below, the ERP read is too short to hide the load behind
log = logging.getLogger(__name__)


class SuiteWorker:
    """The helper of one run; run_suites goes to it once started, else runs here. Used as
    `with contextlib.closing(SuiteWorker())`: the helper ends with the block."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the helper (once); it loads GX while the run goes on."""
        if self.process is not None:
            return
        paths = os.pathsep.join(path for path in sys.path if path)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-P", "-m", __name__],  # -P: nothing from the current folder
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": paths},
                process_group=0,
            )
        except OSError as error:
            log.warning("validation helper not started (%s): the run validates itself", error)

    def run_suites(self, erp: ErpFrames, suites_dir: Path) -> Validation:
        """validate.run_suites, in the helper when it runs. Its errors are raised here."""
        if self.process is None:
            return run_suites(erp, suites_dir)
        try:
            pickle.dump((erp, suites_dir), self.process.stdin, pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
            done, value = pickle.load(self.process.stdout)  # noqa: S301 - our own helper
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            log.warning("validation helper stopped (%r): the run validates itself", error)
            self.close()
            return run_suites(erp, suites_dir)
        if done:
            return value
        raise value

    def close(self) -> None:
        """End the helper, whatever it is doing (it holds nothing)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):  # a request still buffered for a dead helper
                pipe.close()


class HelperError(RuntimeError):
    """An error of the helper's that could not travel as itself."""


class HelperUserError(UserError, HelperError):
    """A user error of the helper's that could not travel as itself."""


def _travelling(error: Exception) -> Exception:
    """The error as the run will raise it: itself, with the helper's traceback as a note,
    when it comes back from pickling whole; else its type and message."""
    error.add_note(f"in the validation helper:\n{traceback.format_exc()}")
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    except Exception:  # noqa: BLE001 - replaced by one that travels
        kind = HelperUserError if isinstance(error, UserError) else HelperError
        return kind(f"{type(error).__name__}: {error}")
    return error


def _answer(erp: ErpFrames, suites_dir: Path) -> bytes:
    """The pickled (done, Validation or error) of one request."""
    try:
        return pickle.dumps((True, run_suites(erp, suites_dir)), pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # noqa: BLE001 - raised in the run
        return pickle.dumps((False, _travelling(error)), pickle.HIGHEST_PROTOCOL)


def serve() -> None:
    """The helper's loop: requests on stdin, answers on the stdout it had; its own stdout
    goes to stderr (what GX prints never mixes with an answer)."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    great_expectations()
    while True:
        try:
            erp, suites_dir = pickle.load(requests)  # noqa: S301 - from the run that started us
        except EOFError:
            return
        answers.write(_answer(erp, suites_dir))
        answers.flush()


if __name__ == "__main__":
    serve()
