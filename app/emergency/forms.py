from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

REASON_LABELS = {
    "counselor_absent": _l("The school's counselor is absent and the student is in crisis"),
    "after_hours": _l("A crisis out of school hours"),
    "hospital_or_police": _l("A hospital or the police need the file now"),
    "guardian_call": _l("A guardian reports an emergency"),
    "other": _l("Other (say below)"),
}
VERDICT_LABELS = {"justified": _l("Justified"), "not_justified": _l("Not justified")}


class SearchForm(FlaskForm):
    q = StringField(_l("Full name or student number"), validators=[DataRequired(), Length(max=40)])


class RequestForm(FlaskForm):
    reason = SelectField(_l("Reason"), validators=[DataRequired()],
                         choices=[SelectChoice("", "—"), *(SelectChoice(k, v) for k, v in REASON_LABELS.items())])
    reason_text = TextAreaField(_l("Why it cannot wait"), validators=[DataRequired(), Length(max=500)])
    # the TOTP code, or the password for a user without a second factor (the view sets the label)
    answer = PasswordField(_l("Code from your authenticator app"), validators=[DataRequired(), Length(max=256)])


class VerdictForm(FlaskForm):
    verdict = RadioField(_l("Verdict"), choices=[SelectChoice(k, v) for k, v in VERDICT_LABELS.items()],
                         validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Length(max=500)])


class CrisisTeamForm(FlaskForm):
    on = BooleanField(_l("On the district's crisis team"))
