"""Custom Rasa input channels (listed by module path in credentials.yml) and the Redis lock store."""
