"""QR codes as inline SVG (no image service, no CDN): the class entrance link, a TOTP enrolment URI."""
from __future__ import annotations

import io

from markupsafe import Markup


def qr_svg(data: str) -> Markup:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    svg = buf.getvalue().decode("utf-8")
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2:]
    return Markup(svg)
