"""The notifications area: the notification list, the unread count beside "Notifications", crisis alerts."""
from app import signals
from app.areas import Area

from .crisis import alert_crisis
from .views import bp, unread_count

AREA = Area(
    "notifications", blueprint=bp, url_prefix="/notifications", badges=(unread_count,),
    receivers=((signals.warning_opened, alert_crisis),),  # crisis alerts
)
