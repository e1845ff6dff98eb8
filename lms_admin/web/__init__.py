"""What every screen shares: the htmx pop-up helpers, the one list machinery (filters, keyset pager with capped
counts, htmx partials), the one streaming CSV writer, and the API base (envelope, errors, auth, paging)."""
