"""Ending the process when model calls were abandoned: wait for them briefly, then skip the
finalisers only if one still runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from medsr_viewer.core.process_exit import abandon, abandoned_alive, wait_for_abandoned


def test_wait_for_abandoned_joins_short_calls_and_times_out_on_long_ones() -> None:
    release = threading.Event()
    short = threading.Thread(target=time.sleep, args=(0.2,), daemon=True)
    long = threading.Thread(target=release.wait, daemon=True)
    short.start()
    long.start()
    abandon(short)
    abandon(long)
    start = time.monotonic()
    assert wait_for_abandoned(0.6) == 1  # the short call ended, the long one still runs
    assert 0.5 < time.monotonic() - start < 2.0 and not short.is_alive()
    release.set()
    long.join(2)
    assert wait_for_abandoned(0.1) == 0 and abandoned_alive() == 0


def test_exit_process_exits_normally_once_the_abandoned_call_ends() -> None:
    script = textwrap.dedent("""
        import atexit, threading, time
        from medsr_viewer.core.process_exit import abandon, exit_process
        atexit.register(lambda: print("finalised", flush=True))
        t = threading.Thread(target=time.sleep, args=(0.3,), daemon=True)
        t.start()
        abandon(t)
        exit_process(3)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 3 and "finalised" in done.stdout  # not os._exit: atexit ran
