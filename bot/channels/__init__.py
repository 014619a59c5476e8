"""Rasa input channels of Chuishao (loaded by Rasa from credentials.yml)."""
