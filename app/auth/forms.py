from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])


class ReauthForm(FlaskForm):
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)])
    # Asked for (and required by the service) only when the user signs in with two factors.
    code = StringField(_l("Code from your authenticator app, or a recovery code"), validators=[Length(max=32)])


class SecondFactorForm(FlaskForm):
    code = StringField(_l("Code from your authenticator app, or a recovery code"),
                       validators=[DataRequired(), Length(max=32)])


class EnrolForm(FlaskForm):
    code = StringField(_l("6-digit code shown by the app"), validators=[DataRequired(), Length(max=32)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()])
    new_password = PasswordField(_l("New password"), validators=[DataRequired(), Length(min=10, max=256)])
    confirm = PasswordField(
        _l("Repeat new password"), validators=[DataRequired(), EqualTo("new_password", message=_l("Passwords differ"))]
    )


class EmptyForm(FlaskForm):
    """For one-click POST actions: carries only the CSRF token."""
