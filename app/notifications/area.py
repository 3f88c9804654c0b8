"""The notifications area: the notification list and the unread count beside "Notifications"."""
from app.areas import Area

from .views import bp, unread_count

AREA = Area("notifications", blueprint=bp, url_prefix="/notifications", badges=(unread_count,))
