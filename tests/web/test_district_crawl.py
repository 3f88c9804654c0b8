"""A crawl of every page and export the district role can reach, scanned for every student's name and number.

The crawl itself (tests/integration/district_crawl.py): every link under /district, every option of the filter
form, the exports. No seeded student's name, student number or public id may appear anywhere. The same crawl
with the identity columns overwritten by markers, and with every column each statement reads recorded, is in
tests/integration/test_district_privacy.py.
"""
from tests.conftest import login
from tests.integration.district_crawl import crawl
from tests.integration.district_world import build


def test_no_page_or_export_of_the_district_role_names_a_student(client, factory):
    world = build(factory)
    login(client, world.district_user.username)
    secrets = set(world.names) | set(world.numbers) | {st.public_id for st in world.students}
    assert len(secrets) == 3 * len(world.students)
    pages = crawl(client)
    for url, text in pages.items():
        for secret in secrets:
            assert secret not in text, (secret, url)
    assert sum("/export/" in url for url in pages) >= 8 * 2
    assert len(pages) > 80


def test_the_crawl_would_notice_a_name(client, factory):
    """The scan is not vacuous: a page that does print a name is caught by the same check."""
    world = build(factory)
    text = f"<td>{world.names[0]}</td>"
    assert any(secret in text for secret in set(world.names))
