"""Test doubles: an OpenAI-compatible stub server."""
