"""The upload form (school + file) and the confirm form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField


class UploadForm(FlaskForm):
    school_id = SelectField(_l("School"), coerce=int, choices=[])
    file = FileField(_l("Roster file (XLSX or CSV)"), validators=[FileRequired()])


class ConfirmForm(FlaskForm):
    apply_transfers = BooleanField(_l("Also request the transfer of the students of other schools listed below"))
