"""The ASGI app for uvicorn (``intrathecal.web.main:app``), on ``DATABASE_URL``; the refill
wizard talks to the virtual pumps at ``ITP_PUMP_HOST``:``ITP_PUMP_PORT`` when that is set."""

from intrathecal.settings import load
from intrathecal.web.app import create_app
from intrathecal.web.pump_client_link import links_from_env

load()  # every setting checked before the app starts (intrathecal.settings)
app = create_app(pump_links=links_from_env())
