from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext as _lp
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

RULE_ROWS = 4
GRADES = [(str(g), str(g)) for g in range(1, 10)]

GUARDIAN_METHODS = [
    ("", _l("— choose —")),
    ("letter", _l("Written notice to guardians")),
    ("meeting", _l("Parent meeting")),
    ("platform", _l("School messaging platform")),
    ("other", _l("Other")),
]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class CampaignForm(FlaskForm):
    name = StringField(_lp("campaign", "Name"), validators=[DataRequired(), Length(max=100)])
    term = StringField(
        _l("Term"),
        validators=[
            DataRequired(),
            Regexp(r"^\d{4}-\d{4}-[12]$", message=_l("Use the form 2026-2027-1 (1 = autumn, 2 = spring).")),
        ],
        description=_l("For example 2026-2027-1 for the autumn term."),
    )
    starts_on = DateField(_l("Starts on"), validators=[DataRequired()])
    ends_on = DateField(_l("Ends on"), validators=[DataRequired()])
    schools = MultiCheckboxField(
        _l("Schools"), coerce=int, validators=[DataRequired(message=_l("Choose at least one school."))]
    )
    guardian_notice = SelectField(_l("How guardians were informed"), choices=GUARDIAN_METHODS, validators=[Optional()])
    guardian_notice_on = DateField(_l("Guardians informed on"), validators=[Optional()])
    no_suicide_item_ok = BooleanField(
        _l("Create the campaign anyway: these grades are screened without a suicide item"))

    def validate_ends_on(self, field):
        if self.starts_on.data and field.data and field.data < self.starts_on.data:
            raise ValidationError(_l("The window ends before it starts."))


def _add_rule_fields() -> None:
    for i in range(1, RULE_ROWS + 1):
        setattr(CampaignForm, f"rule{i}_instrument", SelectField(_l("Instrument"), choices=[], validators=[Optional()]))
        setattr(CampaignForm, f"rule{i}_from", SelectField(_l("From grade"), choices=GRADES, default="7"))
        setattr(CampaignForm, f"rule{i}_to", SelectField(_l("To grade"), choices=GRADES, default="9"))


_add_rule_fields()


class OpenSessionForm(FlaskForm):
    minutes = IntegerField(_l("Minutes until the code expires"), default=60, validators=[NumberRange(5, 240)])


class ImportForm(FlaskForm):
    file = FileField(_l("File (CSV or XLSX)"), validators=[FileRequired()])
    campaign = SelectField(_l("Campaign"), choices=[], validators=[Optional()])
    partial = BooleanField(_l("Import the valid rows even if some rows are wrong"))
