"""/admin/scheduler: the lease's holder and each job's last success and last failure, as the runner records them."""
from __future__ import annotations

from datetime import timedelta

from app.scheduler.jobs import JOBS
from app.scheduler.runs import record_failure, record_success
from models import SchedulerLease, utcnow
from models.clock import database_now
from tests.conftest import login


def test_the_admin_sees_the_holder_and_each_jobs_last_outcome(client, factory, db_session):
    admin = factory.user("admin")
    now = database_now(db_session)
    db_session.add(SchedulerLease(name="scheduler", holder="srv1:4242:ab", expires_at=now + timedelta(seconds=60),
                                  acquired_at=now, token=2))
    record_success(db_session, "rechecks", "srv1:4242:ab", utcnow(), {"due": 3})
    record_failure(db_session, "mail", "srv1:4242:ab", utcnow(), ConnectionRefusedError("smtp down\nmore"))
    db_session.flush()
    login(client, admin.username, factory.PASSWORD)
    html = client.get("/admin/scheduler").get_data(as_text=True)
    assert "srv1:4242:ab" in html and "运行中" in html
    for job in JOBS:
        assert f'data-job="{job.id}"' in html
    assert "ConnectionRefusedError: smtp down" in html and "more" not in html.split("smtp down")[1][:10]
    assert "共失败 1 次" in html


def test_a_stopped_scheduler_is_said_plainly(client, factory, db_session):
    admin = factory.user("admin")
    now = database_now(db_session)
    db_session.add(SchedulerLease(name="scheduler", holder="srv1:1:x", expires_at=now - timedelta(minutes=3),
                                  acquired_at=now - timedelta(hours=2), token=1))
    db_session.flush()
    login(client, admin.username, factory.PASSWORD)
    html = client.get("/admin/scheduler").get_data(as_text=True)
    assert "未运行" in html and "systemctl start xinmiao-scheduler" in html


def test_other_roles_are_refused(client, factory):
    user = factory.counselor()
    login(client, user.username, factory.PASSWORD)
    assert client.get("/admin/scheduler").status_code == 403
