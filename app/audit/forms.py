"""The audit browser's filter form (GET, no CSRF: it changes nothing) and the verify button's form."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional, Regexp, ValidationError


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    student = StringField(
        _l("Student public id"),
        validators=[
            Optional(),
            Length(max=36),
            Regexp(r"^[0-9a-fA-F-]+$", message=_l("A public id has only hex digits and dashes.")),
        ],
    )
    user = StringField(_l("User (username)"), validators=[Optional(), Length(max=64)])
    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    page = IntegerField(validators=[Optional(), NumberRange(min=1, max=1_000_000)])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class VerifyChainForm(FlaskForm):
    """Only the CSRF token: the verify button."""
