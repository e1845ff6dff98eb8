"""The archive API (SPEC §7): archived enrollments, archiving, and archive jobs."""

from .routes import router

__all__ = ["router"]
