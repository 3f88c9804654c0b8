"""Roster upload with preview (admin: any school; counselor: their schools) and the counselor's roster export.

Between the preview and the confirmation the upload waits in a server-side temporary file named by a random token
kept in the session (never a path from the form), encrypted (app/sealed_files.py: AES-GCM under a key derived
from the master key for this purpose; never in clear on the disk); it is deleted once confirmed or cancelled, an
expired one (older than an hour) when it is asked for, and every expired one whenever the import pages are used.
The confirmation plans again from that file (the database may have changed since the preview) and writes
everything in the request's one transaction.

Settings (app.config, optional): ROSTER_IMPORT_MAX_BYTES (default 20 MB; the request as a whole is capped by
MAX_CONTENT_LENGTH, answered 413), ROSTER_IMPORT_MAX_ROWS (default 10,000 students per file), ROSTER_IMPORT_DIR
(default <tmp>/xinmiao-roster-import, mode 0700; several app servers need a shared directory here).
"""
from __future__ import annotations

import io
import tempfile
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from app import form_tokens, uploads
from app.db import db
from app.sealed_files import PendingFileGone, SealedFiles
from app.security import current_actor, recent_login_required, roles
from app.ui import local_today
from app.vault import get_vault, keyring
from models import School

from . import parse, service
from .forms import ConfirmForm, UploadForm

bp = Blueprint("roster_import", __name__)

SESSION_KEY = "roster_import"
STALE_SECONDS = 3600


# -- helpers --------------------------------------------------------------------------------------------------
def _limits() -> tuple[int, int]:
    cfg = current_app.config
    return int(cfg.get("ROSTER_IMPORT_MAX_BYTES", parse.MAX_BYTES)), int(
        cfg.get("ROSTER_IMPORT_MAX_ROWS", parse.MAX_ROWS)
    )


def _upload_dir() -> Path:
    return Path(current_app.config.get("ROSTER_IMPORT_DIR") or Path(tempfile.gettempdir()) / "xinmiao-roster-import")


def _store() -> SealedFiles:
    """The pending uploads: sealed files; each use sweeps the expired ones first."""
    store = SealedFiles(_upload_dir(), keyring(), "pending-upload", STALE_SECONDS)
    store.sweep()
    return store


def _forget_upload() -> None:
    pending = session.pop(SESSION_KEY, None)
    if pending:
        _store().discard(pending.get("token"))


def _schools() -> list[School]:
    if current_user.role == "admin":
        return list(db.session.scalars(select(School).order_by(School.code)))
    return list(current_user.schools)


def _school_in_scope(school_id: int) -> School:
    school = next((s for s in _schools() if s.id == school_id), None)
    if school is None:
        abort(404)
    return school


def _read_upload(storage: FileStorage, max_bytes: int) -> bytes:
    """The upload in memory, refused past the roster size limit while it is read."""
    return uploads.read_stream(storage.stream, max_bytes)


def _plan(school: School, data: bytes) -> service.ImportPlan:
    max_bytes, max_rows = _limits()
    return service.plan_import(
        db.session, get_vault(), school, data, today=local_today(), max_bytes=max_bytes, max_rows=max_rows
    )


def _upload_form() -> UploadForm:
    form = UploadForm()
    form.school_id.choices = [(s.id, f"{s.name}（{s.code}）") for s in _schools()]
    return form


def _render_upload(form: UploadForm, status: int = 200):
    max_bytes, max_rows = _limits()
    exportable = list(current_user.schools) if current_user.role == "counselor" else []
    return render_template(
        "roster_import/upload.html",
        form=form,
        max_mb=max_bytes // (1024 * 1024),
        max_rows=max_rows,
        exportable=exportable,
    ), status


# -- routes ---------------------------------------------------------------------------------------------------
@bp.route("/roster/import", methods=["GET", "POST"])
@roles("counselor", "admin")
def upload():
    form = _upload_form()
    if request.method == "GET":
        _store()  # sweeps the expired pending uploads
        return _render_upload(form)
    if not form.school_id.choices:
        abort(403)
    try:
        wanted = int(request.form.get("school_id", ""))
    except ValueError:
        wanted = None
    if wanted is not None and wanted not in {c[0] for c in form.school_id.choices}:
        abort(404)  # a school outside the user's scope is not disclosed
    if not form.validate_on_submit():
        return _render_upload(form, 400)
    school = _school_in_scope(form.school_id.data)
    _forget_upload()
    max_bytes, _rows = _limits()
    filename = (form.file.data.filename or "")[:120]
    try:
        data = _read_upload(form.file.data, max_bytes)
        plan = _plan(school, data)
    except uploads.UploadError as exc:
        flash(str(exc.args[0]), "error")
        return _render_upload(_upload_form(), 400)
    service.audit_preview(db.session, current_actor(), plan)
    if plan.ok:  # kept (sealed) for the confirmation; a plan that cannot be confirmed is not kept at all
        token = _store().store(data)
        session[SESSION_KEY] = {
            "token": token,
            "school_id": school.id,
            "filename": filename,
            "user_id": current_user.id,
        }
    return render_template(
        "roster_import/preview.html",
        plan=plan,
        filename=filename,
        form=ConfirmForm(),
        labels=service.FIELD_LABELS,
        class_label=parse.class_name,
    )


def _pending() -> tuple[dict, School, bytes]:
    pending = session.get(SESSION_KEY)
    if not pending or pending.get("user_id") != current_user.id:
        flash(_("There is no upload waiting for confirmation; upload the file again."), "error")
        abort(redirect(url_for("roster_import.upload")))
    school = _school_in_scope(int(pending["school_id"]))
    try:
        data = _store().load(pending.get("token", ""))
    except PendingFileGone:
        session.pop(SESSION_KEY, None)
        flash(_("The uploaded file has expired; upload it again."), "error")
        abort(redirect(url_for("roster_import.upload")))
    return pending, school, data


@bp.route("/roster/import/confirm", methods=["POST"])
@roles("counselor", "admin")
def confirm():
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if form_tokens.already_sent(db.session, request.form, "roster-import", f"user:{current_user.id}"):
        flash(_("This form was already sent; it was not carried out a second time."), "error")
        return redirect(url_for("roster_import.upload"))
    pending, school, data = _pending()
    try:
        plan = _plan(school, data)
    except parse.RosterFileError as exc:
        _forget_upload()
        flash(str(exc), "error")
        return redirect(url_for("roster_import.upload"))
    if not plan.ok:
        # the database changed since the preview (e.g. a number now taken): show the new preview, write nothing
        _forget_upload()
        return render_template(
            "roster_import/preview.html",
            plan=plan,
            filename=pending.get("filename", ""),
            form=ConfirmForm(),
            labels=service.FIELD_LABELS,
            class_label=parse.class_name,
        ), 409
    result = service.apply_import(
        db.session,
        current_actor(),
        get_vault(),
        plan,
        apply_transfers=bool(form.apply_transfers.data),
        audit_detail={"file": pending.get("filename", "")},
    )
    _forget_upload()
    flash(
        _(
            "Roster imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.",
            created=result.created,
            updated=result.updated,
            unchanged=result.unchanged,
        ),
        "success",
    )
    if result.transfers_requested:
        flash(_("%(n)s transfer request(s) sent: each file moves when the other school approves.",
                n=result.transfers_requested), "info")
    if result.transfers_pending:
        flash(_("%(n)s transfer(s) were not requested.", n=result.transfers_pending), "info")
    return redirect(url_for("roster_import.upload"))


@bp.route("/roster/import/cancel", methods=["POST"])
@roles("counselor", "admin")
def cancel():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    _forget_upload()
    flash(_("The upload was discarded; nothing was imported."), "info")
    return redirect(url_for("roster_import.upload"))


@bp.route("/roster/export/<int:school_id>.xlsx")
@roles("counselor")
@recent_login_required
def export(school_id: int):
    school = next((s for s in current_user.schools if s.id == school_id), None)
    if school is None:
        abort(404)
    buf = io.BytesIO()
    service.export_xlsx(db.session, get_vault(), school, buf)
    buf.seek(0)
    name = f"roster-{school.code}-{local_today():%Y%m%d}.xlsx"
    response = send_file(
        buf,
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        as_attachment=True,
        download_name=name,
    )
    response.headers["Cache-Control"] = "no-store"
    return response
