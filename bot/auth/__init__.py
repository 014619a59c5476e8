"""Staff authentication for the console and the JSON API: passwords, sessions, CSRF, login rate limit."""
