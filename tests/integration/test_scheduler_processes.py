"""Real `flask scheduler run` processes against one database (SQLite file or PostgreSQL via fresh_database)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest

from app.scheduler.jobs import JOBS

from .scheduler_support import (
    LEASE_TTL,
    Proc,
    lease_now,
    lease_ticked_after,
    migrated_engine,
    process_env,
    scheduler,
    seed_overdue_recheck,
    state,
    wait_for,
)

pytestmark = pytest.mark.slow
# Jobs on a timer of minutes; a quiet job (the audit linker, every second) prints only when it did something.
JOB_IDS = {j.id for j in JOBS if not j.quiet}


def _ran(procs: list[Proc]) -> Counter:
    return Counter(job["job"] for p in procs for job in p.jobs() if job["job"] in JOB_IDS)


def test_two_scheduler_processes_run_each_job_once_and_the_survivor_takes_over(fresh_database, keyring, tmp_path):
    engine = migrated_engine(fresh_database.url)
    recheck_id = seed_overdue_recheck(engine, keyring)
    env = process_env(fresh_database.url, tmp_path)
    a = scheduler(env, tmp_path / "a.log")
    b = scheduler(env, tmp_path / "b.log")
    procs = [a, b]
    try:
        wait_for(lambda: set(_ran(procs)) == JOB_IDS, what="every job to run once")
        # A full lease ttl (and a renewal) more, seen in the lease itself: the standby kept checking the lease
        # all that time and must have run nothing.
        later = lease_now(engine) + timedelta(seconds=LEASE_TTL + 1)
        wait_for(lambda: lease_ticked_after(engine, later), what="lease checks a ttl later")
        assert _ran(procs) == Counter({job: 1 for job in JOB_IDS})
        holders = [p for p in procs if "lease acquired" in p.output()]
        assert len(holders) == 1
        assert state(engine, recheck_id) == ("overdue", 1)

        holder = holders[0]
        survivor = b if holder is a else a
        holder.kill(signal.SIGKILL)  # dies without releasing anything
        wait_for(lambda: "lease acquired" in survivor.output(), what="the survivor to take over")
        wait_for(lambda: set(_ran([survivor])) == JOB_IDS, what="the survivor's catch-up run")
        assert state(engine, recheck_id) == ("overdue", 1)  # catching up repeats nothing
    finally:
        for p in procs:
            p.kill(signal.SIGTERM)
        engine.dispose()


def test_a_scheduler_stopped_and_started_again_runs_each_job_once_per_start(fresh_database, keyring, tmp_path):
    engine = migrated_engine(fresh_database.url)
    env = process_env(fresh_database.url, tmp_path)
    try:
        for n in range(2):
            p = scheduler(env, tmp_path / f"run{n}.log")
            try:
                wait_for(lambda p=p: set(_ran([p])) == JOB_IDS, what="every job to run")
                later = lease_now(engine) + timedelta(seconds=1.5)  # three lease ticks more: no job runs twice
                wait_for(lambda later=later: lease_ticked_after(engine, later), what="lease checks 1.5 s later")
                assert _ran([p]) == Counter({job: 1 for job in JOB_IDS})
            finally:
                p.kill(signal.SIGTERM)
            assert "lease released" in p.output()
    finally:
        engine.dispose()


CRASH_SCRIPT = r"""
import signal, sys
import app.rechecks.tasks as tasks
from models import clock
real = tasks.notify_recheck_stage
def stalled(*args, **kwargs):
    n = real(*args, **kwargs)
    print("MID-SWEEP", n, flush=True)  # rows updated and a notification inserted, not committed
    signal.pause()  # stalled mid-transaction until the test kills this process
    return n
tasks.notify_recheck_stage = stalled
from app import create_app
from app.db import db
from app.scheduler.jobs import run_all_sweeps
application = create_app()
with application.app_context():
    with db.transaction() as session:
        run_all_sweeps(session, clock.now())
"""


def test_a_sweep_killed_midway_leaves_nothing_half_done_and_the_next_sweep_completes_it(
    fresh_database, keyring, tmp_path
):
    engine = migrated_engine(fresh_database.url)
    recheck_id = seed_overdue_recheck(engine, keyring)
    env = process_env(fresh_database.url, tmp_path)
    try:
        child = Proc([sys.executable, "-c", CRASH_SCRIPT], env, tmp_path / "crash.log")
        try:
            wait_for(
                lambda: "MID-SWEEP" in child.output() or child.p.poll() is not None,
                what="the sweep to reach its middle",
            )
            assert "MID-SWEEP" in child.output(), child.output()
        finally:
            child.kill(signal.SIGKILL)
        assert state(engine, recheck_id) == ("planned", 0)  # the killed transaction left nothing behind

        done = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "rechecks", "sweep", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert state(engine, recheck_id) == ("overdue", 1)
    finally:
        engine.dispose()


GATED_SCHEDULER = r"""
import sys
from app.scheduler.jobs import JOBS
from app.scheduler.spec import Sweep
gate, ttl, renew = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
job = next(j for j in JOBS if j.id == "rechecks")
first = job.sweeps[0]
runs = []
def gated(session, now, ctx):
    runs.append(1)
    if len(runs) == 1:  # the catch-up run on taking the lease: wait, before any statement, for the test
        print("GATED", flush=True)
        with open(gate, "rb") as fifo:  # a FIFO: blocks until the test writes to it
            fifo.read(1)
    return first.run(session, now, ctx)
object.__setattr__(job, "sweeps", (Sweep(first.name, gated), *job.sweeps[1:]))
from app import create_app
from app.scheduler.runner import run_scheduler
application = create_app()
with application.app_context():
    run_scheduler(application, ttl, renew)
"""


def test_a_sigstopped_holder_loses_the_lease_within_the_ttl_and_cannot_write_after_sigcont(
    fresh_database, keyring, tmp_path
):
    # Issue 15: on PostgreSQL a SIGSTOPped holder kept its session-level advisory lock and the standby never took
    # over. Now the lease expires unless renewed, and every job commits only while its fencing token is current.
    ttl, renew = 3.0, 0.5
    engine = migrated_engine(fresh_database.url)
    first_recheck = seed_overdue_recheck(engine, keyring)
    env = process_env(fresh_database.url, tmp_path)
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    args = [sys.executable, "-c", GATED_SCHEDULER, str(gate), str(ttl), str(renew)]
    holder = Proc(args, env, tmp_path / "holder.log")
    standby: Proc | None = None
    try:
        wait_for(lambda: "lease acquired" in holder.output() and "GATED" in holder.output(), what="the holder's job")
        standby = scheduler(env, tmp_path / "standby.log", ttl=ttl, renew=renew)
        wait_for(lambda: "started as" in standby.output(), what="the standby to start")

        holder.kill_signal(signal.SIGSTOP)  # hung in the middle of a job, holding whatever it holds
        stopped_at = time.monotonic()
        wait_for(lambda: "lease acquired" in standby.output(), timeout=ttl + 15, what="the standby to take over")
        took_over_after = time.monotonic() - stopped_at
        print(f"standby took over {took_over_after:.1f}s after SIGSTOP (ttl {ttl:g}s, renew every {renew:g}s)")
        wait_for(lambda: "rechecks" in {j["job"] for j in standby.jobs()}, what="the standby's catch-up run")
        assert state(engine, first_recheck) == ("overdue", 1)
        assert [j["token"] for j in standby.jobs()][0] == 2

        second_recheck = seed_overdue_recheck(engine, keyring)  # work the standby will not sweep for 15 minutes
        holder.kill_signal(signal.SIGCONT)
        with open(gate, "wb") as fifo:  # let the woken holder's job go on: it sweeps, then must not commit
            fifo.write(b"x")
        wait_for(
            lambda: "job rechecks refused" in holder.output() or "rechecks" in {j["job"] for j in holder.jobs()},
            what="the woken holder's job to end",
        )
        assert state(engine, second_recheck) == ("planned", 0)  # its writes were rolled back
        assert state(engine, first_recheck) == ("overdue", 1)
        assert "job rechecks refused, lease lost (token 1 no longer current)" in holder.output()
        assert "rechecks" not in {j["job"] for j in holder.jobs()}
    finally:
        holder.kill_signal(signal.SIGCONT)
        holder.kill(signal.SIGKILL)  # its gated job thread may still wait on the FIFO
        if standby is not None:
            standby.kill(signal.SIGTERM)
        engine.dispose()
