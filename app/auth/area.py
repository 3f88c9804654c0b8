"""The auth area: sign-in, sign-out, password change."""
from app.areas import Area

from .views import bp

AREA = Area("auth", blueprint=bp)
