"""The Qt-free notifier: delivery, history, broken subscribers, threads."""

from __future__ import annotations

import threading

import pytest

from medsr_viewer.core.notify import Notice, Notifier


def test_subscribe_post_unsubscribe_and_history() -> None:
    hub = Notifier(history=2)
    got: list[Notice] = []
    unsubscribe = hub.subscribe(got.append)
    hub.info("one", source="test")
    hub.warning("two")
    unsubscribe()
    hub.error("three")
    assert [n.message for n in got] == ["one", "two"]
    assert [n.level for n in hub.history()] == ["warning", "error"]  # bounded
    hub.clear_history()
    assert hub.history() == []
    with pytest.raises(ValueError):
        Notice("fatal", "x")


def test_a_broken_subscriber_does_not_stop_others() -> None:
    hub = Notifier()
    got: list[str] = []

    def broken(_n: Notice) -> None:
        raise RuntimeError("listener bug")

    hub.subscribe(broken)
    hub.subscribe(lambda n: got.append(n.message))
    hub.error("still delivered")
    assert got == ["still delivered"]


def test_posts_from_many_threads_all_arrive() -> None:
    hub = Notifier(history=1000)
    got: list[Notice] = []
    hub.subscribe(got.append)
    threads = [
        threading.Thread(target=lambda i=i: [hub.info(f"{i}-{k}") for k in range(50)])
        for i in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 200 and len(hub.history()) == 200


def test_messages_name_the_file_once():
    from medsr_viewer.core.messages import naming_file

    assert naming_file("/x/a.nii", ValueError("bad header")) == "/x/a.nii: bad header"
    assert naming_file("/x/a.nii", "/x/a.nii: truncated") == "/x/a.nii: truncated"
