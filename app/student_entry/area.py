"""The student entrance (/s): a student fills in the questionnaires of an open session."""
from app.areas import Area

from .views import bp, init_limiters

AREA = Area("student_entry", blueprint=bp, url_prefix="/s", setup=init_limiters)
