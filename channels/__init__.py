"""Custom Rasa input channels, listed by module path in credentials.yml."""
