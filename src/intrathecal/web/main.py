"""The ASGI app for uvicorn (``intrathecal.web.main:app``), on ``DATABASE_URL``."""

from intrathecal.web.app import create_app

app = create_app()
