"""The background job runner: results, generators, latest wins, cancel, failures, stopping."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator

import pytest
from pytestqt.qtbot import QtBot

from medsr_viewer.gui.workers import threads
from medsr_viewer.gui.workers.jobs import JobRunner, Ticket

#: Generous ceiling for anything that should take milliseconds.
TIMEOUT_MS = 5000


@pytest.fixture()
def runner(qtbot: QtBot) -> Iterator[JobRunner]:
    job_runner = JobRunner("test-jobs")
    yield job_runner
    assert job_runner.stop(TIMEOUT_MS)
    assert not job_runner.isRunning()


def _record(runner: JobRunner) -> dict[str, list[tuple]]:
    log: dict[str, list[tuple]] = {
        name: [] for name in
        ("started", "progress", "yielded", "returned", "failed", "cancelled", "finished")
    }
    for name, entries in log.items():
        getattr(runner, name).connect(lambda *args, entries=entries: entries.append(args))
    return log


def _blocking(gate: threading.Event, entered: threading.Event | None = None) -> object:
    """A generator job that yields until ``gate`` is set, then returns ``"done"``."""

    def job(ticket: Ticket) -> Generator[int, None, str]:
        n = 0
        while not gate.wait(0.01):
            if entered is not None:
                entered.set()
            n += 1
            yield n
        return "done"

    return job


def test_callable_and_generator_jobs_report_in_order(qtbot: QtBot, runner: JobRunner) -> None:
    log = _record(runner)
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS) as first:
        plain = runner.submit(lambda ticket: ticket.report(3, 4) or 42, channel="a")
    assert first.args == [plain.id]
    assert log["started"] == [(plain.id,)] and log["returned"] == [(plain.id, 42)]
    assert log["progress"] == [(plain.id, 3, 4)]

    def squares(_ticket: Ticket) -> Generator[int, None, str]:
        for k in range(4):
            yield k * k
        return "end"

    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS):
        gen = runner.submit(squares, channel="b")
    assert [v for i, v in log["yielded"] if i == gen.id] == [0, 1, 4, 9]
    assert log["returned"][-1] == (gen.id, "end")
    assert log["failed"] == [] and log["cancelled"] == []
    assert runner.isRunning() and not runner.busy  # keep_alive: idle, waiting for jobs


def test_newer_job_on_a_channel_supersedes_the_running_one(
    qtbot: QtBot, runner: JobRunner
) -> None:
    log = _record(runner)
    gate, entered = threading.Event(), threading.Event()
    old = runner.submit(_blocking(gate, entered), channel="pane")
    other = runner.submit(lambda _t: "other pane", channel="other")  # waits behind ``old``
    assert entered.wait(TIMEOUT_MS / 1000)
    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT_MS) as cancelled:
        new = runner.submit(lambda _t: "new", channel="pane")
    assert cancelled.args == [old.id] and old.cancelled
    assert not runner.is_current(old.id) and runner.is_current(new.id)
    qtbot.waitUntil(lambda: any(f == (new.id,) for f in log["finished"]), timeout=TIMEOUT_MS)
    assert log["returned"] == [(other.id, "other pane"), (new.id, "new")]
    assert not any(i == old.id for i, *_ in log["returned"])
    gate.set()


def test_without_supersede_both_jobs_run(qtbot: QtBot, runner: JobRunner) -> None:
    log = _record(runner)
    first = runner.submit(lambda _t: 1, channel="c", supersede=False)
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS,
                          check_params_cb=lambda i: i == second.id):
        second = runner.submit(lambda _t: 2, channel="c", supersede=False)
    assert log["returned"] == [(first.id, 1), (second.id, 2)]


def test_cancel_mid_generator_closes_it_and_reports_cancelled(
    qtbot: QtBot, runner: JobRunner
) -> None:
    log = _record(runner)
    closed = threading.Event()
    release = threading.Event()

    def job(_ticket: Ticket) -> Generator[int, None, str]:
        try:
            yield 1
            release.wait(TIMEOUT_MS / 1000)
            yield 2  # not delivered: cancelled before this yield
            yield 3
            return "finished"
        finally:
            closed.set()

    with qtbot.waitSignal(runner.yielded, timeout=TIMEOUT_MS):
        ticket = runner.submit(job, channel="x")
    runner.cancel("x")
    release.set()
    qtbot.waitUntil(lambda: bool(log["finished"]), timeout=TIMEOUT_MS)
    assert closed.is_set() and ticket.cancelled
    assert log["cancelled"] == [(ticket.id,)]
    assert [v for _i, v in log["yielded"]] == [1]
    assert log["returned"] == [] and log["failed"] == []
    assert not runner.is_current(ticket.id)


def test_cancelled_waiting_job_never_starts(qtbot: QtBot, runner: JobRunner) -> None:
    log = _record(runner)
    gate, entered = threading.Event(), threading.Event()
    blocker = runner.submit(_blocking(gate, entered), channel="a")
    waiting = runner.submit(lambda _t: "never", channel="b")
    assert entered.wait(TIMEOUT_MS / 1000)
    runner.cancel("b")
    assert runner.busy  # the blocker still runs
    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS,
                          check_params_cb=lambda i: i == waiting.id):
        gate.set()
    assert log["returned"] == [(blocker.id, "done")]
    assert log["cancelled"] == [(waiting.id,)]
    assert (waiting.id,) not in log["started"]


def test_failures_are_reported_and_the_runner_goes_on(qtbot: QtBot, runner: JobRunner) -> None:
    log = _record(runner)

    def broken(_ticket: Ticket) -> None:
        raise ValueError("deliberate failure")

    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as failed:
        ticket = runner.submit(broken)
    assert failed.args == [ticket.id, "ValueError: deliberate failure"]

    def broken_generator(_ticket: Ticket) -> Generator[int, None, None]:
        yield 1
        raise OSError("disk gone")

    with qtbot.waitSignal(runner.failed, timeout=TIMEOUT_MS) as failed:
        runner.submit(broken_generator, describe=lambda exc: f"custom: {exc}")
    assert failed.args[1] == "custom: disk gone"
    with qtbot.waitSignal(runner.returned, timeout=TIMEOUT_MS) as returned:
        ok = runner.submit(lambda _t: "still working")
    assert returned.args == [ok.id, "still working"]
    assert len(log["failed"]) == 2 and log["cancelled"] == []


def test_a_failure_after_cancel_is_reported_as_cancelled(
    qtbot: QtBot, runner: JobRunner
) -> None:
    log = _record(runner)

    def fails_when_cancelled(ticket: Ticket) -> None:
        ticket.cancel_event.wait(TIMEOUT_MS / 1000)
        raise RuntimeError("interrupted")

    with qtbot.waitSignal(runner.started, timeout=TIMEOUT_MS):
        ticket = runner.submit(fails_when_cancelled)
    with qtbot.waitSignal(runner.cancelled, timeout=TIMEOUT_MS) as cancelled:
        ticket.cancel()
    assert cancelled.args == [ticket.id]
    qtbot.waitUntil(lambda: bool(log["finished"]), timeout=TIMEOUT_MS)
    assert log["failed"] == []


def test_background_job_gives_way_to_any_new_job(qtbot: QtBot, runner: JobRunner) -> None:
    log = _record(runner)
    gate, entered = threading.Event(), threading.Event()
    prefetch = runner.submit(_blocking(gate, entered), channel="prefetch", background=True)
    assert entered.wait(TIMEOUT_MS / 1000)
    with qtbot.waitSignal(runner.returned, timeout=TIMEOUT_MS) as returned:
        wanted = runner.submit(lambda _t: "wanted", channel="elsewhere")
    assert returned.args == [wanted.id, "wanted"]
    assert log["cancelled"] == [(prefetch.id,)]
    gate.set()


def test_stop_all_stops_a_blocked_job(qtbot: QtBot) -> None:
    runner = JobRunner("test-blocked")
    log = _record(runner)
    saw_cancel = threading.Event()

    def blocked(ticket: Ticket) -> str:
        if ticket.cancel_event.wait(30):  # like a long read polling for cancel
            saw_cancel.set()
        return "too late"

    with qtbot.waitSignal(runner.started, timeout=TIMEOUT_MS):
        ticket = runner.submit(blocked)
    assert any(t is runner.thread_object for t in threads.running_threads())
    assert threads.stop_all(timeout_ms=TIMEOUT_MS) == []
    assert saw_cancel.is_set() and ticket.cancelled and not runner.isRunning()
    qtbot.waitUntil(lambda: bool(log["finished"]), timeout=TIMEOUT_MS)  # queued reports
    assert log["cancelled"] == [(ticket.id,)] and log["returned"] == []
    late = runner.submit(lambda _t: "after stop")
    assert late.cancelled and not runner.isRunning()


def test_stop_all_interrupts_through_on_stop(qtbot: QtBot) -> None:
    outside = threading.Event()  # the job waits on something the ticket does not know
    runner = JobRunner("test-on-stop", on_stop=outside.set)

    with qtbot.waitSignal(runner.started, timeout=TIMEOUT_MS):
        runner.submit(lambda _t: outside.wait(30))
    assert threads.stop_all(timeout_ms=TIMEOUT_MS) == []
    assert outside.is_set() and not runner.isRunning()


def test_one_off_runner_thread_ends_when_idle_and_restarts(
    qtbot: QtBot,
) -> None:
    runner = JobRunner("test-one-off", keep_alive=False)
    try:
        for value in range(3):
            with qtbot.waitSignal(runner.returned, timeout=TIMEOUT_MS) as returned:
                runner.submit(lambda _t, v=value: v)
            assert returned.args[1] == value
            qtbot.waitUntil(lambda: not runner.isRunning(), timeout=TIMEOUT_MS)
            assert not any(t is runner.thread_object for t in threads.running_threads())
    finally:
        assert runner.stop(TIMEOUT_MS)


def test_ticket_post_from_a_plain_callable(qtbot: QtBot, runner: JobRunner) -> None:
    log = _record(runner)

    def loader(ticket: Ticket) -> str:
        for phase in ("Scanning", "Loading"):
            ticket.post((phase, 1, 2))
        return "study"

    with qtbot.waitSignal(runner.finished, timeout=TIMEOUT_MS):
        ticket = runner.submit(loader)
    assert [v for _i, v in log["yielded"]] == [("Scanning", 1, 2), ("Loading", 1, 2)]
    assert log["returned"] == [(ticket.id, "study")]
