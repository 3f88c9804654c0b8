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
    emergency = BooleanField(
        _l("Emergency referral"),
        description=_l("Only for a referral made because the safety assessment found imminent risk."),
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


# -- referral packets and the service's feedback (app/care/referrals.py) ------------------------------------------
CONSENT_HOW_LABELS = {
    "phone": _l("By phone"),
    "in_person": _l("In person"),
    "written": _l("In writing"),
    "none": _l("Without consent (give the reason)"),
}
PACKET_SECTION_LABELS = {
    "reason": _l("Reason for referral"),
    "screenings": _l("Screening results with dates"),
    "risk": _l("Observed risk"),
    "safety_plan": _l("Safety plan"),
    "contacts": _l("Contacts"),
}


class ConsentForm(FlaskForm):
    how = RadioField(_l("How the guardian consented"), choices=list(CONSENT_HOW_LABELS.items()),
                     validators=[InputRequired(message=_l("Say how consent was given."))])
    by = StringField(_l("Who consented"), validators=[Length(max=120)],
                     description=_l("The guardian's name and relation, e.g. 王丽（母亲）."))
    on = DateField(_l("Consent date"), validators=[Optional()])
    no_consent_reason = TextAreaField(
        _l("Reason for referring without consent"), validators=[Length(max=NOTE_MAX)],
        description=_l("Only without consent, e.g. imminent risk and no guardian reachable. Sealed."),
    )


class ServiceFeedbackForm(FlaskForm):
    impression = TextAreaField(_l("Diagnosis impression"), validators=[Length(max=NOTE_MAX)])
    advice = TextAreaField(_l("Advice"), validators=[Length(max=NOTE_MAX)])
    next_appointment = DateField(_l("Next appointment"), validators=[Optional()])


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


class RequestTransferForm(FlaskForm):
    student_number = StringField(_l("Student number"), validators=[DataRequired(), Length(max=40)])
    to_class = SelectField(_l("Class at your school"), coerce=int, validate_choice=True)


class TransferDecisionForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Length(max=300)])


class EmptyForm(FlaskForm):
    marker = HiddenField()


# -- the crisis response of a level-1 warning (app/care/crisis.py) -------------------------------------------------
ANSWER_CHOICES = [("yes", _l("Yes")), ("no", _l("No")), ("unknown", _l("Unknown"))]
# The brief suicide safety assessment's questions (the structure of NIMH's BSSA), asked by the counselor.
ASSESSMENT_QUESTION_LABELS = {
    "thoughts": _l("Thoughts of suicide: in the past few weeks, has the student thought about killing themselves? "
                   "How often, when last, and right now?"),
    "plan": _l("A plan: does the student have a plan (how, when, where)?"),
    "past_attempts": _l("Past attempts: has the student ever tried to hurt or kill themselves? How and when?"),
    "means": _l("Access to means: can the student reach what a plan would use (medicines, sharp objects, heights)?"),
    "supports": _l("Supports: does the student have someone they trust and can turn to (family, friends, teachers)?"),
}
ASSESSMENT_OUTCOME_LABELS = {
    "imminent": _l("Imminent risk: emergency referral now, the student is not left alone, the guardian is informed"),
    "further_evaluation": _l("Further evaluation needed: referral for a mental-health evaluation and a safety plan"),
    "no_current_risk": _l("No current risk: a safety plan, or a recorded reason to lower the level"),
}
# Shown on the checklist (what is done, what is required) and named in the errors.
CRISIS_STEP_LABELS = {
    "assessment": _l("Brief suicide safety assessment, the same day"),
    "guardian": _l("Guardian informed (a parent-contact entry)"),
    "emergency_referral": _l("Emergency referral recorded (a referral entry marked emergency)"),
    "referral": _l("Referral for further evaluation"),
    "safety_plan": _l("Safety plan"),
}
# The six steps of the Stanley-Brown safety planning intervention, in the student's words.
SAFETY_PLAN_STEP_LABELS = {
    "warning_signs": _l("Step 1. Warning signs: thoughts, feelings or situations that come before a crisis"),
    "coping": _l("Step 2. Things I can do on my own to take my mind off my problems"),
    "distractions": _l("Step 3. People and places that help me take my mind off things"),
    "help_people": _l("Step 4. People I can ask for help"),
    "professionals": _l("Step 5. Professionals and services I can contact in a crisis"),
    "environment": _l("Step 6. Making my surroundings safe"),
}


class AssessmentForm(FlaskForm):
    thoughts = RadioField(ASSESSMENT_QUESTION_LABELS["thoughts"], choices=ANSWER_CHOICES,
                          validators=[InputRequired(message=_l("Answer this question."))])
    thoughts_note = TextAreaField(_l("Notes"), validators=[Length(max=NOTE_MAX)])
    plan = RadioField(ASSESSMENT_QUESTION_LABELS["plan"], choices=ANSWER_CHOICES,
                      validators=[InputRequired(message=_l("Answer this question."))])
    plan_note = TextAreaField(_l("Notes"), validators=[Length(max=NOTE_MAX)])
    past_attempts = RadioField(ASSESSMENT_QUESTION_LABELS["past_attempts"], choices=ANSWER_CHOICES,
                               validators=[InputRequired(message=_l("Answer this question."))])
    past_attempts_note = TextAreaField(_l("Notes"), validators=[Length(max=NOTE_MAX)])
    means = RadioField(ASSESSMENT_QUESTION_LABELS["means"], choices=ANSWER_CHOICES,
                       validators=[InputRequired(message=_l("Answer this question."))])
    means_note = TextAreaField(_l("Notes"), validators=[Length(max=NOTE_MAX)])
    supports = RadioField(ASSESSMENT_QUESTION_LABELS["supports"], choices=ANSWER_CHOICES,
                          validators=[InputRequired(message=_l("Answer this question."))])
    supports_note = TextAreaField(_l("Notes"), validators=[Length(max=NOTE_MAX)])
    outcome = RadioField(_l("Outcome of the assessment"), choices=list(ASSESSMENT_OUTCOME_LABELS.items()),
                         validators=[InputRequired(message=_l("Choose the outcome of the assessment."))])
    reason = TextAreaField(
        _l("Reason for the outcome"),
        validators=[DataRequired(message=_l("Give the reason for the outcome.")), Length(max=NOTE_MAX)],
        description=_l("Sealed; counselors only."),
    )


class SafetyPlanForm(FlaskForm):
    warning_signs = TextAreaField(SAFETY_PLAN_STEP_LABELS["warning_signs"], validators=[Length(max=NOTE_MAX)])
    coping = TextAreaField(SAFETY_PLAN_STEP_LABELS["coping"], validators=[Length(max=NOTE_MAX)])
    distractions = TextAreaField(SAFETY_PLAN_STEP_LABELS["distractions"], validators=[Length(max=NOTE_MAX)])
    help_people = TextAreaField(SAFETY_PLAN_STEP_LABELS["help_people"], validators=[Length(max=NOTE_MAX)])
    professionals = TextAreaField(SAFETY_PLAN_STEP_LABELS["professionals"], validators=[Length(max=NOTE_MAX)])
    environment = TextAreaField(SAFETY_PLAN_STEP_LABELS["environment"], validators=[Length(max=NOTE_MAX)])
    review_on = DateField(_l("Review date of the safety plan"), validators=[Optional()])
