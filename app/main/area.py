"""The main area: each role's home (from the other areas' `home`), health check, language switch."""
from app.areas import Area

from .views import bp

AREA = Area("main", blueprint=bp)
