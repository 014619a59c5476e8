"""Chuishao's custom Rasa NLU components (registered in config.yml by module path)."""
