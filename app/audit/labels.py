"""One translated label per audit action, and one per area of actions (the audit page's filter groups).

Every action the code writes has a label here; tests/unit/test_audit_labels.py reads the code for the actions
passed to `append_event`, `Vault.reveal` and `Vault.reveal_many` and fails on one without a label. An action
from an older release (or a test) without a label is shown as its id.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTION_LABELS = {
    "access.proposed": _l("Clinical access proposed"),
    "access.granted": _l("Clinical access granted"),
    "access.refused": _l("Clinical access refused"),
    "access.cancelled": _l("Clinical access proposal cancelled"),
    "access.revoked": _l("Clinical access removed"),
    "audit.checkpoint_mismatch": _l("Audit chain does not extend its checkpoint"),
    "auth.password_ok": _l("Password accepted, second factor due"),
    "auth.recovery_code_used": _l("Signed in with a recovery code"),
    "auth.second_factor_failed": _l("Second factor failed"),
    "auth.second_factor_locked": _l("Second factor locked"),
    "auth.two_factor_enrolled": _l("Two-factor sign-in set up"),
    "auth.two_factor_reset": _l("Two-factor sign-in reset"),
    "crisis.assessment_form": _l("Safety assessment form opened"),
    "crisis.assessment_recorded": _l("Suicide safety assessment recorded"),
    "crisis.safety_plan_form": _l("Safety plan form opened"),
    "crisis.safety_plan_printed": _l("Safety plan printed"),
    "crisis.safety_plan_saved": _l("Safety plan saved"),
    "district.rollups_refreshed": _l("District figures refreshed"),
    "district.set": _l("District set"),
    "emergency.ended": _l("Emergency access ended early"),
    "emergency.granted": _l("Emergency access granted"),
    "emergency.read": _l("File read under emergency access"),
    "emergency.reviewed": _l("Emergency access reviewed"),
    "emergency.search": _l("Students searched for emergency access"),
    "help.acknowledged": _l("Request to talk acknowledged"),
    "help.requested": _l("Request to talk"),
    "notifications.list": _l("Notifications viewed"),
    "rechecks.sweep": _l("Recheck sweep run"),
    "school.counselor_contact_changed": _l("Counselor contact details changed"),
    "screening.import_checked": _l("Screening import checked (dry run)"),
    "session.entrance_reopened": _l("Session entrance reopened"),
    "session.entry_code_renewed": _l("Entry code replaced"),
    "session.entry_codes_issued": _l("Entry codes issued"),
    "session.entry_unlocked": _l("Student's entry unlocked"),
    "session.slips": _l("Entry slips printed"),
    "student.entry_locked": _l("Student's entry locked after wrong codes"),
    "transfer.approved": _l("Transfer approved"),
    "transfer.cancelled": _l("Transfer request cancelled"),
    "transfer.refused": _l("Transfer refused"),
    "transfer.requested": _l("Transfer requested"),
    "transfer.review": _l("Transfer requests viewed"),
    "audit.browse": _l("Audit log browsed"),
    "audit.verify": _l("Audit chain verified"),
    "auth.account_locked": _l("Account locked after failed passwords"),
    "auth.idle": _l("Signed out after inactivity"),
    "auth.login": _l("Signed in"),
    "auth.login_failed": _l("Sign-in failed"),
    "auth.login_locked": _l("Sign-in refused: account locked"),
    "auth.logout": _l("Signed out"),
    "auth.logout_locked": _l("Signed out: re-confirmation locked"),
    "auth.password_changed": _l("Own password changed"),
    "auth.reauth": _l("Identity re-confirmed"),
    "auth.reauth_failed": _l("Identity re-confirmation failed"),
    "auth.reauth_locked": _l("Identity re-confirmation locked"),
    "campaign.closed": _l("Screening campaign closed"),
    "campaign.created": _l("Screening campaign created"),
    "campaign.opt_outs": _l("Campaign opt-outs recorded"),
    "care.checkin_form": _l("Check-in form opened"),
    "care.checkin_recorded": _l("Care check-in recorded"),
    "care.checkins_seeded": _l("Demo check-ins seeded"),
    "care.class_list": _l("Class care list viewed"),
    "care.class_student": _l("Class student's care page viewed"),
    "care.roster": _l("Care-group list viewed"),
    "care.worklist": _l("Worklist viewed"),
    "case.closed": _l("Case closed"),
    "case.entry_added": _l("Case record added"),
    "case.observations_seen": _l("Head-teacher observations read"),
    "case.opened": _l("Case opened"),
    "case.plan_updated": _l("Care plan updated"),
    "case.updated": _l("Case updated"),
    "case.view": _l("Case file viewed"),
    "city.created": _l("City created"),
    "city.district_assigned": _l("District assigned to a city"),
    "city.export": _l("City figures exported"),
    "class.created": _l("Class created"),
    "class.updated": _l("Class updated"),
    "demo.seeded": _l("Demo district seeded"),
    "district.created": _l("District created"),
    "district.export": _l("District figures exported"),
    "draft.resume": _l("Paper-entry draft resumed"),
    "key.add_index_version": _l("Index key version added"),
    "key.add_version": _l("Master key version added"),
    "key.index_rotate": _l("Index key rotated"),
    "key.prune": _l("Old key versions pruned"),
    "key.rotate": _l("Data keys rotated"),
    "key.verify": _l("Keys verified"),
    "rechecks.list": _l("Recheck list viewed"),
    "referral.consent_recorded": _l("Referral consent recorded"),
    "referral.feedback_recorded": _l("Referral feedback recorded"),
    "referral.packet": _l("Referral packet generated"),
    "retention.confirmed": _l("Erasure after the retention period confirmed"),
    "retention.held": _l("File held from erasure"),
    "retention.list": _l("Retention review list viewed"),
    "retention.listed": _l("Files due for erasure listed"),
    "student.exported": _l("All of a student's data exported"),
    "referral.printed": _l("Referral form printed"),
    "referral.updated": _l("Referral updated"),
    "referral.view": _l("Referral viewed"),
    "roster.class_list": _l("Class roster viewed"),
    "roster.export": _l("Roster exported"),
    "roster.school_year_started": _l("New school year: classes, promotions, new pupils"),
    "roster.import": _l("Roster imported"),
    "roster.import_preview": _l("Roster import previewed"),
    "roster.list": _l("Student list viewed"),
    "roster.search": _l("Students searched"),
    "school.created": _l("School created"),
    "school.report_exported": _l("School screening report downloaded"),
    "school.updated": _l("School updated"),
    "screening.imported": _l("Screening results imported"),
    "screening.recorded": _l("Screening recorded"),
    "screening.view": _l("Screening result viewed"),
    "session.closed": _l("Class screening session closed"),
    "session.opened": _l("Class screening session opened"),
    "student.created": _l("Student added"),
    "student.edit": _l("Student edit form opened"),
    "student.erased": _l("Student's personal data erased"),
    "student.self_identified": _l("Student identified themselves"),
    "student.updated": _l("Student record updated"),
    "student.view": _l("Student file viewed"),
    "transfer.form": _l("Transfer form opened"),
    "transfer.in": _l("Moved in from another school"),
    "transfer.out": _l("Moved out to another school"),
    "user.city_changed": _l("City officer's city changed"),
    "user.created": _l("User created"),
    "user.disabled": _l("User disabled"),
    "user.crisis_team_changed": _l("User's crisis-team membership changed"),
    "user.enabled": _l("User enabled"),
    "user.password_reset": _l("User's password reset"),
    "user.role_changed": _l("User's role changed"),
    "user.scope_changed": _l("User's schools or classes changed"),
    "user.updated": _l("User updated"),
    "warning.acknowledged": _l("Warning acknowledged"),
    "warning.confirmed": _l("Warning level confirmed"),
    "warning.dismissed": _l("Warning dismissed"),
    "warning.lowered": _l("Warning level lowered"),
    "warning.raised": _l("Warning level raised"),
    "warning.view": _l("Warning viewed"),
}

AREA_LABELS = {
    "access": _l("Clinical access"),
    "crisis": _l("Crisis response"),
    "emergency": _l("Emergency access"),
    "help": _l("Requests to talk"),
    "notifications": _l("Notifications"),
    "retention": _l("Retention and erasure"),
    "audit": _l("Audit log"),
    "auth": _l("Sign-in and identity"),
    "campaign": _l("Screening campaigns"),
    "care": _l("Care groups and worklist"),
    "case": _l("Cases"),
    "city": _l("City figures"),
    "class": _l("Classes"),
    "demo": _l("Demo data"),
    "district": _l("District figures"),
    "draft": _l("Paper-entry drafts"),
    "key": _l("Keys"),
    "rechecks": _l("Rechecks"),
    "referral": _l("Referrals"),
    "roster": _l("Roster"),
    "school": _l("Schools"),
    "screening": _l("Screenings"),
    "session": _l("Class screening sessions"),
    "student": _l("Student records"),
    "transfer": _l("Transfers"),
    "user": _l("Users"),
    "warning": _l("Warnings"),
}

TARGET_LABELS = {
    "campaign": _l("Campaign"),
    "case": _l("Case"),
    "class": _l("Class"),
    "emergency": _l("Emergency access"),
    "master": _l("Master key"),
    "school": _l("School"),
    "session": _l("Session"),
    "user": _l("User"),
    "warning": _l("Warning"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def area_of(action: str) -> str:
    return action.split(".", 1)[0]


def area_label(area: str) -> str:
    label = AREA_LABELS.get(area)
    return str(label) if label is not None else area


def target_label(target: str | None) -> tuple[str, str] | None:
    """`case:241dfd3f…` as ("个案", "241dfd3f…"); a target without a known kind as ("", target)."""
    if not target:
        return None
    kind, sep, rest = target.partition(":")
    label = TARGET_LABELS.get(kind) if sep else None
    return (str(label), rest) if label is not None else ("", target)


def filter_choices(known: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The action filter: per area, "all of the area" (`case.*`) then each action by its label; the actions
    come from the labels and from the events stored (`known`), so an unlabelled one can still be chosen."""
    by_area: dict[str, set[str]] = {}
    for action in [*ACTION_LABELS, *known]:
        by_area.setdefault(area_of(action), set()).add(action)
    out = []
    for area in sorted(by_area, key=lambda a: area_label(a)):
        options = [(f"{area}.*", str(_l("All: %(area)s", area=area_label(area))))]
        options += sorted(((a, action_label(a)) for a in by_area[area]), key=lambda o: o[1])
        out.append((area_label(area), options))
    return out
