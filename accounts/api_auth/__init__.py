"""API authentication: JWT (djangorestframework-simplejwt) with revocable,
rotating refresh tokens, the console's own hashed API keys, and the API rate
limits. How clients use them: docs/api.md."""
