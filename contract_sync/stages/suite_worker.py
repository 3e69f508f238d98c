"""The suites run in a helper process that loads Great Expectations while the run reads.

Loading GX costs about a second of the interpreter, which a run would spend after its ERP
read, before the first changed contract is checked. A large run (MIN_CONTRACTS in scope)
starts this helper when its scan finds the first changed contract without a kept verdict:
the helper loads GX on another core meanwhile, then runs the suites on the frames it is
sent and sends back their Validation. It only computes: verdicts are kept and reports
written by the run.

The run validates in its own process, as before, when the helper is not started (small
runs, full refreshes, first imports, changes beyond one group: see evaluation.scan), and
when the helper cannot start or stops (logged). Killed with its run: it holds nothing.
The helper is `python -m` this module, with its answers on a channel of its own: a
module-level call in the caller's main script never runs twice.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import IO

from contract_sync.erp.frames import ErpFrames
from contract_sync.stages.gx_import import great_expectations
from contract_sync.stages.validate import Validation, run_suites

MIN_CONTRACTS = 1_000  # in scope: below, the ERP read is too short to hide the load behind
log = logging.getLogger(__name__)


class SuiteWorker:
    """The helper of one run; run_suites goes to it once started, else runs here."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> SuiteWorker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the helper (once); it loads GX while the run goes on."""
        if self.process is not None:
            return
        paths = os.pathsep.join(path for path in sys.path if path)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", __name__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={**os.environ, "PYTHONPATH": paths},
            )
        except OSError as error:
            log.warning("validation helper not started (%s): the run validates itself", error)

    def run_suites(self, erp: ErpFrames, suites_dir: Path) -> Validation:
        """validate.run_suites, in the helper when it runs. Its errors are raised here."""
        if self.process is None:
            return run_suites(erp, suites_dir)
        try:
            _send(self.process.stdin, (erp, suites_dir))
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
        if self.process is None:
            return
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            pipe.close()
        self.process = None


def _send(channel: IO[bytes], message: object) -> None:
    channel.write(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    channel.flush()


def _answer(erp: ErpFrames, suites_dir: Path) -> bytes:
    """The pickled (done, Validation or error) of one request."""
    try:
        return pickle.dumps((True, run_suites(erp, suites_dir)), pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # noqa: BLE001 - raised in the run
        try:
            return pickle.dumps((False, error), pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - an error that cannot travel travels as text
            return pickle.dumps((False, RuntimeError(f"{type(error).__name__}: {error}")))


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
