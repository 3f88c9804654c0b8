"""Admin forms: schools, classes, users. Every message is translatable and shown next to its field."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from .service import MIN_PASSWORD

NEEDED = _l("Please fill in this field")

SCHOOL_TYPE_LABELS = {
    "urban": _l("Urban school"),
    "rural_small": _l("Rural small-scale school"),
    "township_boarding": _l("Township boarding school"),
    "other": _l("Other school"),
}
SCHOOL_STAGE_LABELS = {
    "primary": _l("Primary (grades 1-6)"),
    "junior": _l("Junior secondary (grades 7-9)"),
    "nine_year": _l("Nine-year school (grades 1-9)"),
}
ROLE_CHOICES = [
    ("counselor", _l("School counselor")),
    ("head_teacher", _l("Head teacher")),
    ("school_leader", _l("School leader")),
    ("district", _l("District education office")),
    ("city", _l("City education commission")),
    ("admin", _l("Administrator")),
]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SchoolForm(FlaskForm):
    code = StringField(_l("School code"), validators=[DataRequired(NEEDED), Length(max=32)],
                       description=_l("The education bureau's school code, for example 3101510001"))
    name = StringField(_l("School name"), validators=[DataRequired(NEEDED), Length(max=100)])
    type = SelectField(_l("School type"), choices=[SelectChoice(k, v) for k, v in SCHOOL_TYPE_LABELS.items()])
    stage = SelectField(_l("Stage"), choices=[SelectChoice(k, v) for k, v in SCHOOL_STAGE_LABELS.items()])


class ClassForm(FlaskForm):
    grade = IntegerField(
        _l("Grade (1-9)"),
        validators=[DataRequired(NEEDED), NumberRange(1, 9, message=_l("Grade is a number from 1 to 9"))],
    )
    name = StringField(_l("Class name"), validators=[DataRequired(NEEDED), Length(max=50)],
                       description=_l("For example 七年级(3)班"))
    school_year = StringField(_l("School year"), validators=[DataRequired(NEEDED), Length(max=9)],
                              description=_l("For example 2026-2027"))


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(NEEDED), Length(max=100)])
    email = StringField(
        _l("E-mail"),
        validators=[
            Optional(),
            Regexp(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter a valid e-mail address")),
            Length(max=255),
        ],
        description=_l("Reminders say only how many items are waiting, never any student details"),
    )
    full_time = BooleanField(_l("Full-time mental-health teacher"), default=True)


class AccessForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(k, v) for k, v in ROLE_CHOICES])
    schools = MultiCheckboxField(_l("Schools (for a counselor; one for a school leader)"), coerce=int, choices=[])
    classes = SelectMultipleField(_l("Classes (for a head teacher)"), coerce=int, choices=[],
                                  description=_l("Hold Ctrl (or Cmd) to choose several classes"))
    city = SelectField(_l("City (for a city officer)"), coerce=int, choices=[], validate_choice=False)
    active = BooleanField(_l("Account active"), default=True)


class CityForm(FlaskForm):
    code = StringField(_l("City code"), validators=[DataRequired(NEEDED), Length(max=32)])
    name = StringField(_l("City name"), validators=[DataRequired(NEEDED), Length(max=100)])


class DistrictForm(FlaskForm):
    code = StringField(_l("District code"), validators=[DataRequired(NEEDED), Length(max=32)])
    name = StringField(_l("District name"), validators=[DataRequired(NEEDED), Length(max=100)])
    city = SelectField(_l("City"), coerce=int, choices=[], validate_choice=False)


class AssignDistrictForm(FlaskForm):
    district = SelectField(lazy_pgettext("city", "District"), coerce=int, choices=[], validate_choice=False)
    city = SelectField(_l("City"), coerce=int, choices=[], validate_choice=False)


class NewUserForm(ProfileForm, AccessForm):
    username = StringField(_l("Username"), validators=[DataRequired(NEEDED), Length(min=2, max=64)])
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(NEEDED), Length(min=MIN_PASSWORD, max=256, message=_l("At least 8 characters"))],
        description=_l("Give it to the user privately; they can change it after signing in"),
    )


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[DataRequired(NEEDED), Length(min=MIN_PASSWORD, max=256, message=_l("At least 8 characters"))],
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(NEEDED), EqualTo("password", message=_l("The two passwords differ"))],
    )
