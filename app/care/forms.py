from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import Choice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

NOTE_MAX = 4000

LEVEL_CHOICES = [
    ("L1", _l("Level 1 warning")),
    ("L2", _l("Level 2 warning")),
    ("L3", _l("Level 3 warning")),
    ("care", _l("Care group, no warning")),
    ("none", _l("Dismiss: no warning")),
]
ENTRY_KIND_LABELS = {
    "interview": _l("Interview"),
    "checkin": _l("Check-in"),
    "parent_contact": _l("Parent contact"),
    "observation": _l("Head-teacher observation"),
    "referral": _l("Referral"),
    "return": _l("Return to school"),
    "confidentiality": _l("Confidentiality broken because of risk of harm"),
    "note": _l("Note (entry)"),
}
VISIBILITY_CHOICES = [("counselor", _l("Counselors only")), ("shared", _l("Shared with the head teacher"))]
REFERRAL_STATUS_LABELS = {
    "planned": _l("Planned"),
    "sent": _l("Referral sent"),
    "accepted": _l("Referral accepted"),
    "feedback": _l("Feedback received"),
    "closed": _l("Referral closed"),
}
CASE_STATUS_LABELS = {
    "open": _l("New case"),
    "following": _l("Following up"),
    "referred": _l("Referred"),
    "closed": _l("Case closed (status)"),
}


class ConfirmForm(FlaskForm):
    level = RadioField(_l("Level after the interview"), choices=LEVEL_CHOICES, validators=[InputRequired()])
    reason = TextAreaField(
        _l("Reason"), validators=[DataRequired(message=_l("A reason is required.")), Length(max=NOTE_MAX)],
        description=_l("What the interview showed. Kept in the history, sealed."),
    )


class PlanForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    owner_id = SelectField(_l("Owner"), coerce=int, choices=[], validate_choice=False, validators=[Optional()])
    goals = TextAreaField(_l("Goals"), validators=[Length(max=NOTE_MAX)])
    measures = TextAreaField(_l("Measures"), validators=[Length(max=NOTE_MAX)])
    responsibilities = TextAreaField(_l("Who does what"), validators=[Length(max=NOTE_MAX)])
    review_on = DateField(_l("Review date"), validators=[Optional()])


class EntryForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=list(ENTRY_KIND_LABELS.items()))
    occurred_on = DateField(_l("Date"), validators=[InputRequired()])
    note = TextAreaField(_l("Note (entry)"), validators=[Length(max=NOTE_MAX)])
    visibility = SelectField(_l("Who may read it"), choices=VISIBILITY_CHOICES, default="counselor")
    destination = StringField(_l("Referral destination"), validators=[Length(max=300)])
    referral_status = SelectField(
        _l("Referral status"), choices=list(REFERRAL_STATUS_LABELS.items()), default="planned"
    )
    told_whom = StringField(
        _l("Who was told"), validators=[Length(max=300)],
        description=_l("Only for a confidentiality entry: who was told; the note says why."),
    )


class ObservationForm(FlaskForm):
    student = SelectField(_l("Student"), choices=[], validate_choice=False, validators=[DataRequired()])
    kind = SelectField(
        _l("Kind"), choices=[("observation", _l("Observation")), ("parent_contact", _l("Parent contact"))]
    )
    occurred_on = DateField(_l("Date"), validators=[InputRequired()])
    note = TextAreaField(
        _l("What you noticed"), validators=[DataRequired(message=_l("A note is required.")), Length(max=NOTE_MAX)]
    )


class CloseForm(FlaskForm):
    version = IntegerField(validators=[InputRequired()])
    reason = TextAreaField(
        _l("Reason for closing"), validators=[DataRequired(message=_l("A reason is required.")), Length(max=NOTE_MAX)]
    )


class ReferralForm(FlaskForm):
    status = SelectField(_l("Referral status"), choices=list(REFERRAL_STATUS_LABELS.items()))
    feedback = TextAreaField(_l("Feedback"), validators=[Length(max=NOTE_MAX)])


class CheckinForm(FlaskForm):
    occurred_on = DateField(_l("Date"), validators=[InputRequired()])
    guardian_contacted = BooleanField(_l("The guardian was contacted"))
    note = TextAreaField(_l("Note (entry)"), validators=[Length(max=NOTE_MAX)])


def _int_or_none(value: object) -> int | None:
    return None if value in ("", None) else int(str(value))


class ChooseSelectField(SelectField):
    """A select whose first option is an empty "choose one": nothing is preselected, the user must choose.
    (A plain select shows its first real option as chosen: a 7th-grader defaulted to a primary school's
    一年级(1)班.)"""

    def __init__(self, *args, placeholder=None, **kwargs):
        super().__init__(*args, coerce=_int_or_none, **kwargs)
        self.placeholder = placeholder

    def iter_choices(self):
        return [Choice(value="", label=str(self.placeholder or ""), selected=self.data is None, render_kw={}),
                *super().iter_choices()]


class TransferForm(FlaskForm):
    to_class = ChooseSelectField(
        _l("New school and class"), validate_choice=True, placeholder=_l("Choose a school and class"),
        validators=[InputRequired(message=_l("Choose the new school and class."))],
    )


class EmptyForm(FlaskForm):
    marker = HiddenField()
