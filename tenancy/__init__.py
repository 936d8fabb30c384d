"""Discord servers as tenants: each server's own library, settings and logs (see __init__ later)."""
