"""Demo step 65: the demo district inside a city (上海市, 市教委) and its officer, signing in as `city`.

The demo has one district, so the city page compares one district with the city total; a real city's officer
sees every district the admin put in the city (/admin/cities)."""
from __future__ import annotations

from app.demo import DemoContext
from models import City, User

CITY = ("310000", "上海市")  # code (the administrative division code), name
OFFICER = ("city", "周明（市教委）")  # username, display name


def seed_city(ctx: DemoContext) -> str:
    from app.auth.service import hash_password

    district = ctx.data["district"]
    code, name = CITY
    city = City(code=code, name=name)
    ctx.session.add(city)
    ctx.session.flush()
    district.city_id = city.id
    username, display = OFFICER
    user = User(username=username, display_name=display, password_hash=hash_password(ctx.password), role="city",
                active=True, city_id=city.id, full_time=True, email=f"{username}@example.edu.cn")
    ctx.session.add(user)
    ctx.session.flush()
    ctx.data.setdefault("users", {})[username] = user
    return f"city {name} with {district.name}; city officer {username} ({display})"
