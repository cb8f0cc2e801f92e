"""Web pages, JSON APIs, the admin API and the staff console."""
