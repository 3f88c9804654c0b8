"""Roster forms. Every message is translatable and is shown next to its field."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from models import SchoolClass

from .service import (
    EDITABLE_STATUSES,
    MAX_GUARDIANS,
    NATIONAL_ID_RE,
    StudentFilters,
    clean_national_id,
    clean_phone,
    valid_birth_ym,
)

GENDER_LABELS = {"M": _l("Male"), "F": _l("Female")}
STATUS_LABELS = {
    "enrolled": _l("Enrolled"),
    "transferred_out": _l("Transferred out"),
    "graduated": _l("Graduated"),
    "left": _l("Left school"),
    "erased": _l("Erased"),
}
GRADE_LABELS = {
    1: _l("Grade 1"), 2: _l("Grade 2"), 3: _l("Grade 3"), 4: _l("Grade 4"), 5: _l("Grade 5"),
    6: _l("Grade 6"), 7: _l("Grade 7"), 8: _l("Grade 8"), 9: _l("Grade 9"),
}
REQUIRED = _l("This field is required")


def _int_or_none(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form: Any) -> None:
        allowed = {str(value) for value, _label in self.choices or []}
        if any(str(value) not in allowed for value in self.data or []):
            raise ValidationError(_l("Unknown care group"))


class GuardianForm(Form):
    """One guardian row; a row left completely empty is ignored."""

    # No Optional(): it would stop the inline checks that make a half-filled row name its missing parts.
    name = StringField(_l("Guardian name"), validators=[Length(max=50, message=_l("At most 50 characters"))])
    relation = StringField(_l("Relation"), validators=[Optional(), Length(max=20, message=_l("At most 20 characters"))],
                           description=_l("For example 母亲, 父亲, 祖母"))
    phone = StringField(_l("Phone"), validators=[Length(max=30, message=_l("At most 30 characters"))])

    def is_blank(self) -> bool:
        return not any((self.name.data or "").strip() or (f.data or "").strip() for f in (self.relation, self.phone))

    def validate_name(self, field: Any) -> None:
        if not self.is_blank() and not (field.data or "").strip():
            raise ValidationError(_l("Enter the guardian's name"))

    def validate_phone(self, field: Any) -> None:
        if self.is_blank():
            return
        if not (field.data or "").strip():
            raise ValidationError(_l("Enter the guardian's phone number"))
        if clean_phone(field.data) is None:
            raise ValidationError(_l("Enter a phone number of digits only: 11 digits for a mobile, or a landline"))


class StudentForm(FlaskForm):
    name = StringField(
        _l("Full name"),
        validators=[DataRequired(message=REQUIRED), Length(max=50, message=_l("At most 50 characters"))],
    )
    student_number = StringField(
        _l("Student number"),
        validators=[DataRequired(message=REQUIRED), Length(max=32, message=_l("At most 32 characters"))],
        description=_l("The national student number (学籍号); unique in the district"),
    )
    national_id = StringField(_l("National ID number (optional)"), validators=[Optional()])
    gender = SelectField(_l("Gender"), choices=[("", _l("— choose —")), ("F", _l("Female")), ("M", _l("Male"))],
                         validators=[DataRequired(message=REQUIRED)])
    birth_ym = StringField(_l("Birth year and month"), validators=[DataRequired(message=REQUIRED)],
                           description=_l("Year and month only, as YYYY-MM, for example 2013-09"))
    school_id = SelectField(_l("School"), coerce=int, validators=[DataRequired(message=REQUIRED)])
    grade = SelectField(_l("Grade"), coerce=_int_or_none, choices=[("", _l("— choose —"))] + list(GRADE_LABELS.items()),
                        validators=[DataRequired(message=REQUIRED)])
    class_id = SelectField(_l("Class"), coerce=int, validators=[Optional()],
                           description=_l("A class of the same school and grade"))
    status = SelectField(_l("Status"), choices=[(s, STATUS_LABELS[s]) for s in EDITABLE_STATUSES])
    care_groups = MultiCheckboxField(_l("Care groups"), choices=[])
    guardians = FieldList(
        FormField(GuardianForm), label=_l("Guardians"), min_entries=MAX_GUARDIANS, max_entries=MAX_GUARDIANS
    )

    def setup(
        self, schools: list[Any], classes: list[SchoolClass], care_groups: list[tuple[str, str]], this_year: int
    ) -> StudentForm:
        """Fill the choices that depend on the user's scope and the configured care groups."""
        several = len(schools) > 1
        self.school_id.choices = [(s.id, s.name) for s in schools]
        self.class_id.choices = [(0, _l("— no class yet —"))] + [
            (c.id, f"{c.school.name} · {c.name}" if several else c.name) for c in classes
        ]
        self.care_groups.choices = care_groups
        self._classes = {c.id: c for c in classes}
        self._this_year = this_year
        return self

    def validate_student_number(self, field: Any) -> None:
        field.data = (field.data or "").strip()

    def validate_name(self, field: Any) -> None:
        field.data = (field.data or "").strip()
        if not field.data:
            raise ValidationError(REQUIRED)

    def validate_national_id(self, field: Any) -> None:
        value = clean_national_id(field.data)
        if value and not NATIONAL_ID_RE.match(value):
            raise ValidationError(_l("A national ID number has 18 characters: 17 digits, then a digit or X"))
        field.data = value

    def validate_birth_ym(self, field: Any) -> None:
        field.data = (field.data or "").strip()
        if not valid_birth_ym(field.data, self._this_year):
            raise ValidationError(_l("Enter the year and month as YYYY-MM, for example 2013-09"))

    def validate_class_id(self, field: Any) -> None:
        if not field.data:
            field.data = None
            return
        klass = self._classes.get(field.data)
        if klass is None or klass.school_id != self.school_id.data or klass.grade != self.grade.data:
            raise ValidationError(_l("Choose a class of the same school and grade, or no class"))

    def guardian_rows(self) -> list[dict[str, str]]:
        rows = []
        for entry in self.guardians.entries:
            sub = entry.form
            if sub.is_blank():
                continue
            rows.append({
                "name": (sub.name.data or "").strip(),
                "relation": (sub.relation.data or "").strip(),
                "phone": clean_phone(sub.phone.data) or "",
            })
        return rows


def parse_filters(
    args: Mapping[str, str], school_ids: set[int], class_ids: set[int], care_keys: set[str]
) -> StudentFilters:
    """Read list filters from the query string; anything outside the user's scope or unknown is ignored."""

    def as_int(name: str) -> int | None:
        try:
            return int(args.get(name, ""))
        except ValueError:
            return None

    school_id = as_int("school")
    grade = as_int("grade")
    class_id = as_int("class")
    group = args.get("group") or None
    # Enrolled students unless the user asks for another status or "all"; a search looks at every status so a
    # graduated or transferred student can still be found by name.
    q = (args.get("q") or "")[:100]
    status = args.get("status") or (None if q.strip() else "enrolled")
    return StudentFilters(
        school_id=school_id if school_id in school_ids else None,
        grade=grade if grade in GRADE_LABELS else None,
        class_id=class_id if class_id in class_ids else None,
        care_group=group if group in care_keys else None,
        status=status if status in EDITABLE_STATUSES else None,
        q=q,
    )
