"""The prediction log: every prediction and every feedback, in SQLite or PostgreSQL."""
