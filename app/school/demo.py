"""Demo step 60: a school leader (校领导 / 分管德育) of the demo's first school, signing in as `leader`."""
from __future__ import annotations

from app.demo import DemoContext
from models import User

LEADER = ("leader", "王校长")  # username, display name
LEADER_SCHOOL = "3101510001"  # 崇明区城桥中学: the demo counselor's school, with a full history


def seed_school_leader(ctx: DemoContext) -> str:
    from app.auth.service import hash_password

    school = ctx.data["schools_by_code"][LEADER_SCHOOL]
    username, display = LEADER
    user = User(username=username, display_name=display, password_hash=hash_password(ctx.password),
                role="school_leader", active=True, district_id=school.district_id, full_time=True,
                email=f"{username}@example.edu.cn")
    user.schools = [school]  # figures of one school, not clinical access: no grant (app/admin/service._scope_for)
    ctx.session.add(user)
    ctx.session.flush()
    ctx.data.setdefault("users", {})[username] = user
    return f"school leader {username} ({display}) of {school.name}"
