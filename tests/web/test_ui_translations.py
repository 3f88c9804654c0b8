"""Templates' gettext and the constant labels go through the request's catalogue, looked up once per request and
language (app/ui.py): the language still follows the request, and a switch of language inside one request."""
from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale

from app.roster.forms import GENDER_LABELS
from app.ui import label_text, level_badge


def test_labels_and_template_text_follow_the_language_even_within_one_request(app):
    template = "{{ _('Level 1 warning') }}|{{ level_badge('L1') }}|{{ gender_label('F') }}"
    with app.test_request_context("/"):
        with force_locale("zh"):
            zh = render_template_string(template)
            assert label_text(GENDER_LABELS["F"]) == "女"
        with force_locale("en"):
            en = render_template_string(template)
            assert label_text(GENDER_LABELS["F"]) == "Female"
            assert "Level 1 warning" in str(level_badge("L1"))
        with force_locale("zh"):
            assert render_template_string(template) == zh
    assert zh.startswith("一级预警|") and "一级预警</span>" in zh and zh.endswith("|女")
    assert en == 'Level 1 warning|<span class="badge level-l1">Level 1 warning</span>|Female'
