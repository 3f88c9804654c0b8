"""Admin audit browser: `/admin/audit` (filter, paginate; browsing is itself audited) and a verify button."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.db import db
from app.security import current_actor, recent_login_required, roles
from models import clock
from models.audit import append_event, unlinked_report, verify_chain

from . import labels, service
from .checkpoints import check_chain
from .forms import AuditFilterForm, VerifyChainForm

bp = Blueprint("audit", __name__)


@bp.route("")
@roles("admin")
def index():
    form = AuditFilterForm(request.args)
    filters = service.AuditFilters()
    if request.args and not form.validate():
        result = service.AuditPage([], 0, 1, 1)
    else:
        filters = service.AuditFilters(
            student=form.student.data or None,
            user=form.user.data or None,
            action=form.action.data or None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
        result = service.browse(db.session, filters, form.page.data or 1, tz=current_app.config["TIMEZONE"])
    detail = filters.as_detail()
    detail["page"] = result.page
    append_event(db.session, current_actor(), "audit.browse", detail=detail)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "audit/index.html",
        form=form,
        result=result,
        args=args,
        action_groups=labels.filter_choices(service.known_actions(db.session)),
        action_label=labels.action_label,
        target_label=labels.target_label,
        schools=service.schools_of(db.session, result.events),
        verify_form=VerifyChainForm(),
    )


@bp.route("/verify", methods=["POST"])
@roles("admin")
@recent_login_required
def verify():
    form = VerifyChainForm()
    if not form.validate_on_submit():
        return redirect(url_for("audit.index"))
    count, brk = verify_chain(db.session)
    verdict = check_chain(db.session) if brk is None else None
    unlinked = unlinked_report(db.session, clock.now(), float(current_app.config["AUDIT_UNLINKED_MAX_AGE_SECONDS"]))
    detail = {"events": count, "ok": brk is None and verdict is not None and verdict.ok and unlinked.ok,
              "pending": unlinked.pending}
    if verdict is not None and not verdict.ok:
        detail.update(checkpoint_problems=[p.message for p in verdict.problems][:5])
        flash(
            _("The audit chain does NOT match its checkpoints kept outside the database: %(problem)s",
              problem=verdict.problems[0].message),
            "error",
        )
    elif brk is not None:
        detail.update(broken_at=brk.seq, problem=brk.problem)
        flash(
            _("The audit chain is BROKEN at event %(seq)s: %(problem)s. %(n)s events before it verified.",
              seq=brk.seq, problem=brk.problem, n=count),
            "error",
        )
    elif not unlinked.ok:
        detail.update(stale=unlinked.stale)
        flash(
            _("%(n)s audit events have not been linked into the chain for more than %(s)s seconds: the linker "
              "(scheduler job audit_link) is not running or refuses the chain.", n=unlinked.stale,
              s=int(unlinked.max_age_seconds)),
            "error",
        )
    else:
        flash(_("The audit chain is intact: %(n)s events verified.", n=count), "success")
        if unlinked.pending:
            flash(_("%(n)s newer events are waiting to be linked into the chain.", n=unlinked.pending), "info")
    append_event(db.session, current_actor(), "audit.verify", detail=detail)
    return redirect(url_for("audit.index"))


