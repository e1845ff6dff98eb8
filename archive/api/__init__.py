"""The archive API (SPEC §7): archived enrollments, archiving, and archive jobs.

`schemas` says what each endpoint reads and answers; the routes live by concern (`archived`, `archiving`, `jobs`)
and mount here on the one `router` that `lms_admin/api_urls.py` adds to the API.
"""

from ninja import Router

from . import archived, archiving, jobs

router = Router(tags=["Archive"])
router.add_router("", archived.router)
router.add_router("", archiving.router)
router.add_router("", jobs.router)

__all__ = ["router"]
