"""The suites run in a helper process that loads Great Expectations while the run reads.

Loading GX costs about a second of the interpreter, which a run would spend after its ERP
read, before the first changed contract is checked. A large run (MIN_CONTRACTS in scope)
starts this helper when its scan finds the first changed contract without a kept verdict:
the helper loads GX meanwhile (on another core where the machine has one), then runs the
suites on the frames it is sent and sends back their Validation. It only computes:
verdicts are kept and reports written by the run, which ends its helper when its scan ends.
Changes beyond a group are validated by both at once (run_split): about half the items in
the helper, the rest in the run, on two cores.

The run validates in its own process, as before, when the helper is not started (see
pace.Pace) and when the helper cannot start or stops (logged). A run killed outright
leaves its helper to end at its next read, on the closed pipe. The helper is `python -P -m`
this module, in a process group of its own (Ctrl-C is for the run), with its answers on a
channel of its own: a module-level call in the caller's main script never runs twice.

A run a person waits on at the command line (named contracts) starts its helper as it
begins, forked from the run's process (start(forked=True)): the copy has pandas and the
product loaded already, so Great Expectations is ready about when the run needs it instead
of a second and a half later, and the run's own process never loads it (nor pays for
tearing it down at exit). Forking is safe only in a process of one thread, on Linux
(elsewhere a fork without exec is not: macOS's system libraries); the run validates itself
otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from pathlib import Path

from contract_sync.errors import UserError
from contract_sync.model import ErpFrames, Validation
from contract_sync.stages.gx_import import great_expectations
from contract_sync.stages.validate import contract_local, halves, one_validation, run_suites

MIN_CONTRACTS = 1_000  # in scope: below, the ERP read is too short to hide the load behind
# Split between the helper and the run from this many items: GX's own cost of a run of the
# suites (about 0.5 s) is then less than what the second core takes off.
SPLIT_FROM_ITEMS = 20_000
log = logging.getLogger(__name__)


class SuiteWorker:
    """The helper of one run; run_suites goes to it once started, else runs here. Used as
    `with contextlib.closing(SuiteWorker())`: the helper ends with the block."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | _Forked | None = None

    def start(self, *, forked: bool = False) -> None:
        """Start the helper (once); it loads GX while the run goes on. `forked`: a copy of
        this process, where forking is safe (else no helper)."""
        if self.process is not None:
            return
        if forked:
            if can_fork():
                try:
                    self.process = _Forked()
                except OSError as error:
                    log.warning(
                        "validation helper not forked (%s): the run validates itself", error
                    )
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

    @property
    def running(self) -> bool:
        return self.process is not None

    def run_suites(self, erp: ErpFrames, suites_dir: Path) -> Validation:
        """validate.run_suites, in the helper when it runs. Its errors are raised here.
        Nothing to check is answered here: the helper may still be loading GX."""
        if self.process is None or erp.empty or not self._sent(erp, suites_dir):
            return run_suites(erp, suites_dir)
        return self._answer_to(erp, suites_dir)

    def run_split(self, erp: ErpFrames, suites_dir: Path) -> Validation:
        """validate.run_suites on two cores: about half the items in the helper, the rest
        here meanwhile (halves), as one Validation in the order one run gives. In the
        helper alone below SPLIT_FROM_ITEMS, or when a suite checks more than each
        contract on its own (validate.contract_local)."""
        if (
            self.process is None
            or len(erp.items) < SPLIT_FROM_ITEMS
            or not contract_local(suites_dir)
        ):
            return self.run_suites(erp, suites_dir)
        theirs, ours = halves(erp)
        if not self._sent(theirs, suites_dir):
            return run_suites(erp, suites_dir)
        try:
            mine = run_suites(ours, suites_dir)
        except BaseException:
            self.close()  # its answer to `theirs` would be read as the next one's
            raise
        return one_validation([self._answer_to(theirs, suites_dir), mine], erp)

    def _sent(self, erp: ErpFrames, suites_dir: Path) -> bool:
        """Whether the request reached the helper (else it is ended, and logged)."""
        try:
            pickle.dump((erp, suites_dir), self.process.stdin, pickle.HIGHEST_PROTOCOL)
            self.process.stdin.flush()
        except OSError as error:
            self._stopped(error)
            return False
        return True

    def _answer_to(self, erp: ErpFrames, suites_dir: Path) -> Validation:
        """The helper's answer to the request of `erp`; validated here if it stopped."""
        try:
            done, value = pickle.load(self.process.stdout)  # noqa: S301 - our own helper
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            self._stopped(error)
            return run_suites(erp, suites_dir)
        if done:
            return value
        raise value

    def _stopped(self, error: BaseException) -> None:
        log.warning("validation helper stopped (%r): the run validates itself", error)
        self.close()

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


def can_fork() -> bool:
    """Whether this process can be forked safely: Linux, and no Python thread but this one
    (native threads of libraries that mind a fork, as OpenBLAS's, take care of it)."""
    return sys.platform == "linux" and threading.active_count() == 1


class _Forked:
    """A helper forked from the run's process: the parts of a Popen the worker uses.
    SIGINT is held back from the fork until the copy has left the terminal's process group
    (a Ctrl-C in between would raise in the copy, which would then run the run's code)."""

    def __init__(self) -> None:
        for stream in (sys.stdout, sys.stderr):  # else the copy holds their pending text
            if stream is not None and not stream.closed:
                stream.flush()
        requests_read, requests_write = os.pipe()
        answers_read, answers_write = os.pipe()
        ends = (requests_read, requests_write, answers_read, answers_write)
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            pid = os.fork()
        except OSError:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            for end in ends:
                os.close(end)
            raise
        if pid == 0:  # the helper: it never returns into the run's code
            _forked_helper(requests_read, answers_write, (requests_write, answers_read), old_mask)
        os.close(requests_read)
        os.close(answers_write)
        self.pid = pid
        self.stdin = os.fdopen(requests_write, "wb")
        self.stdout = os.fdopen(answers_read, "rb")
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # a Ctrl-C held back: here
        except BaseException:
            self.kill()
            self.wait()
            self.stdin.close()
            self.stdout.close()
            raise

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


def _forked_helper(
    requests: int, answers: int, run_ends: tuple[int, int], mask: set[signal.Signals]
) -> None:
    """The forked helper's life: its own process group, SIGINT ignored (Ctrl-C is for the
    run), its stdout to stderr, then serve; it ends with os._exit, never running the run's
    exit handlers."""
    status = 0
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for end in run_ends:
            os.close(end)  # else the helper never sees the run's end of its requests
        os.dup2(2, 1)
        serve(os.fdopen(requests, "rb"), os.fdopen(answers, "wb"))
    except BaseException:  # noqa: BLE001 - the run validates itself on the closed pipe
        traceback.print_exc()
        status = 1
    finally:
        with contextlib.suppress(BaseException):
            sys.stderr.flush()
        os._exit(status)


def serve(requests, answers) -> None:  # noqa: ANN001 - binary files
    """The helper's loop: requests in, answers out, until the run closes its end."""
    great_expectations()
    while True:
        try:
            erp, suites_dir = pickle.load(requests)  # noqa: S301 - from the run that started us
        except EOFError:
            return
        answers.write(_answer(erp, suites_dir))
        answers.flush()


def main() -> None:
    """The spawned helper: requests on stdin, answers on the stdout it had; its own stdout
    goes to stderr (what GX prints never mixes with an answer)."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
