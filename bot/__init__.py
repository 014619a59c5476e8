"""Chuishao's web side: settings, the bot web app, the custom REST channel and the process runner.

Importing this package does no work: Rasa imports `bot.channels.rest` inside its own process.
"""

__version__ = "0.1.0"
